namespace EdgePlatform.ControlPlane.Host.Tests.Datasets;

/// <summary>
/// Addresses of the services tests/run.sh starts (deployment/scripts/test-services.sh): from the
/// environment, or from <c>services.env</c> in <c>EDGEPLATFORM_TEST_SERVICES</c>. A test that needs
/// one that is not there fails saying how to start it; it never passes without it.
/// </summary>
internal static class TestServices
{
    public const string PostgreSql = "EDGEPLATFORM_TEST_POSTGRES";
    public const string Azurite = "EDGEPLATFORM_TEST_AZURITE";

    public static string Require(string variable, string what)
    {
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value)
        {
            return value;
        }

        var services = Environment.GetEnvironmentVariable("EDGEPLATFORM_TEST_SERVICES");
        var file = string.IsNullOrEmpty(services) ? null : Path.Combine(services, "services.env");
        var announced = file is not null && File.Exists(file)
            ? File.ReadLines(file).Select(line => line.Split('=', 2)).Where(p => p.Length == 2 && p[0].Trim() == variable).Select(p => p[1].Trim()).LastOrDefault(v => v.Length > 0)
            : null;
        return announced ?? throw new InvalidOperationException(
            $"{what} is not running for the integration tests: {variable} is not set and EDGEPLATFORM_TEST_SERVICES/services.env does not name it. "
            + "Run the suite through tests/run.sh, which installs and starts it (deployment/scripts/test-services.sh).");
    }
}
