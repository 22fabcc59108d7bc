using System.ComponentModel.DataAnnotations;
using EdgePlatform.Resilience;

namespace EdgePlatform.Agent.Core.Tests;

public sealed class AgentOptionsTests
{
    [Fact]
    public void Validate_ReconcileRetryCapBelowItsFirstDelay_RefusesNamingTheOption()
    {
        var options = new AgentOptions
        {
            ReconcileRetry = new RetryBackoffOptions { FirstDelay = TimeSpan.FromMinutes(1), MaxDelay = TimeSpan.FromSeconds(5) },
        };
        var problems = new List<ValidationResult>();

        Assert.False(Validator.TryValidateObject(options, new ValidationContext(options), problems, validateAllProperties: true));

        var problem = Assert.Single(problems);
        Assert.Equal([nameof(AgentOptions.ReconcileRetry)], problem.MemberNames);
        Assert.Contains("MaxDelay", problem.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_EachRetryLoop_KeepsItsFormerPacingWithJitter()
    {
        var options = new AgentOptions();

        Assert.True(Validator.TryValidateObject(options, new ValidationContext(options), [], validateAllProperties: true));
        Assert.Equal((TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(10)), (options.EnrollmentRetry.FirstDelay, options.EnrollmentRetry.MaxDelay));
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(2)), (options.AttestationRetry.FirstDelay, options.AttestationRetry.MaxDelay));
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(5)), (options.ReconcileRetry.FirstDelay, options.ReconcileRetry.MaxDelay));
        Assert.Equal((TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(10)), (options.ReconnectRetry.FirstDelay, options.ReconnectRetry.MaxDelay));
        Assert.All([options.EnrollmentRetry, options.AttestationRetry, options.ReconcileRetry, options.ReconnectRetry], r => Assert.True(r.UseJitter));
    }
}
