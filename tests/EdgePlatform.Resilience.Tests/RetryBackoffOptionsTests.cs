using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.Resilience.Tests;

public sealed class RetryBackoffOptionsTests
{
    [Fact]
    public void ValidBackoff_MaxDelayShorterThanFirstDelay_NamesTheOptionAndBothFields()
    {
        var options = new Holder { Reconnect = new RetryBackoffOptions { FirstDelay = TimeSpan.FromSeconds(5), MaxDelay = TimeSpan.FromSeconds(1) } };
        var problems = new List<ValidationResult>();

        Assert.False(Validator.TryValidateObject(options, new ValidationContext(options), problems, validateAllProperties: true));

        var problem = Assert.Single(problems);
        Assert.Contains(nameof(Holder.Reconnect), problem.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("MaxDelay", problem.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("FirstDelay", problem.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidBackoff_ZeroFirstDelay_IsRefused()
    {
        var options = new Holder { Reconnect = new RetryBackoffOptions { FirstDelay = TimeSpan.Zero } };

        Assert.False(Validator.TryValidateObject(options, new ValidationContext(options), [], validateAllProperties: true));
    }

    [Fact]
    public void ValidBackoff_Defaults_AreValid()
    {
        var options = new Holder();

        Assert.True(Validator.TryValidateObject(options, new ValidationContext(options), [], validateAllProperties: true));
    }

    private sealed class Holder
    {
        [ValidBackoff]
        public RetryBackoffOptions Reconnect { get; set; } = new();
    }
}
