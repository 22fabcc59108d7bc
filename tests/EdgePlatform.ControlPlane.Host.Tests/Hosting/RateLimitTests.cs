using System.Net;
using EdgePlatform.ControlPlane.Host.Hosting;

namespace EdgePlatform.ControlPlane.Host.Tests.Hosting;

/// <summary>The per-address rate limit of endpoints that answer without an operator token (<c>RateLimits</c>).</summary>
public sealed class RateLimitTests
{
    private static readonly Uri Timestamp = new("/api/v1/trust/timestamp", UriKind.Relative);

    [Fact]
    public async Task Get_BurstOverBurstPermits_Returns429WithRetryAfterWhileAuthenticatedCallsServe()
    {
        await using var server = ControlPlaneFactory.With(new Dictionary<string, string>
        {
            ["RateLimits:BurstPermits"] = "5",
            ["RateLimits:PermitsPerSecond"] = "1",
        });
        using var refusals = new LimitRefusals(server.Services);
        using var anonymous = server.CreateAnonymousClient();

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 20; i++)
        {
            var response = await anonymous.GetAsync(Timestamp);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused ??= response;
            }
            else
            {
                response.Dispose();
            }
        }

        using (refused)
        {
            Assert.NotNull(refused);
            Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {refused.Headers.RetryAfter}");
        }

        Assert.InRange(statuses.Count(s => s == HttpStatusCode.OK), 5, 7);
        Assert.Equal(statuses.Count(s => s == HttpStatusCode.TooManyRequests), refusals[LimitMetrics.RequestRate]);
        using var admin = server.CreateClient();
        using var devices = await admin.GetAsync(new Uri("/api/v1/devices", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, devices.StatusCode);
    }

    [Fact]
    public async Task Get_RateLimitsDisabled_BurstServed()
    {
        await using var server = ControlPlaneFactory.With(new Dictionary<string, string>
        {
            ["RateLimits:Enabled"] = "false",
            ["RateLimits:BurstPermits"] = "5",
            ["RateLimits:PermitsPerSecond"] = "1",
        });
        using var anonymous = server.CreateAnonymousClient();

        for (var i = 0; i < 20; i++)
        {
            using var response = await anonymous.GetAsync(Timestamp);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }
}
