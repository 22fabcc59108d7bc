using System.ComponentModel.DataAnnotations;
using EdgePlatform.Agent.Http;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Agent.Scoring;

namespace EdgePlatform.Agent.Tests.Scoring;

public sealed class ArmOptionsTests
{
    [Fact]
    public void Validate_CandidateCardWithoutModel_SaysBothGoTogether()
    {
        var options = new ArmOptions { Mode = ArmMode.Shadow, CandidateCard = "/models/candidate/card.json" };

        var errors = Validate(options);

        Assert.Equal(
            "Inference:Arms:CandidateCard and Inference:Arms:CandidateModel go together: set both to load a candidate, or neither",
            Assert.Single(errors).ErrorMessage);
    }

    [Fact]
    public void Validate_SplitShareAbove100Percent_IsRefused()
    {
        var errors = Validate(new ArmOptions { Mode = ArmMode.Split, CandidatePercent = 150 });

        Assert.Contains(errors, error => error.MemberNames.Contains(nameof(ArmOptions.CandidatePercent)));
    }

    [Fact]
    public void ToPolicy_Split_RoutesTheConfiguredShareByTheConfiguredField()
    {
        var policy = new ArmOptions { Mode = ArmMode.Split, CandidatePercent = 25, KeyField = "device" }.ToPolicy();

        Assert.Equal(ArmMode.Split, policy.Mode);
        Assert.Equal(25, policy.CandidatePercent);
        Assert.Equal("device", policy.KeyField);
    }

    [Fact]
    public void Validate_HttpBindAddressThatIsNotAnIp_NamesTheSetting()
    {
        var errors = Validate(new InferenceHttpOptions { BindAddress = "localhost" });

        Assert.Equal("InferenceHttp:BindAddress 'localhost' is not an IP address", Assert.Single(errors).ErrorMessage);
    }

    private static List<ValidationResult> Validate(object options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return results;
    }
}
