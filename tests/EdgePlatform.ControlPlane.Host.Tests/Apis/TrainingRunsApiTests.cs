using System.Net;

namespace EdgePlatform.ControlPlane.Host.Tests.Apis;

public sealed class TrainingRunsApiTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>
{
    private static readonly Uri TrainingRuns = new("/api/v1/training-runs", UriKind.Relative);

    [Theory]
    [InlineData("""{"trainer": "logistic-regression", "trees": 500}""", "trees", "sizes a tree ensemble; trainer 'logistic-regression' has none (use fasttree or lightgbm)")]
    [InlineData("""{"trees": 0}""", "trees", "must be between 1 and 10000")]
    [InlineData("""{"leaves": 1}""", "leaves", "must be between 2 and 1024")]
    [InlineData("""{"parityTolerance": 2}""", "parityTolerance", "must be above 0 and at most 1")]
    [InlineData("""{"parityRelativeTolerance": -0.1}""", "parityRelativeTolerance", "must be between 0 and 1")]
    [InlineData("""{"transforms": {"rpm": ["log-mean-variance"]}}""", "transforms", "Invalid training spec: column 'rpm': transform 'log-mean-variance' cannot be exported into the ONNX graph")]
    [InlineData("""{"transforms": {"rpm": ["one-hot"]}}""", "transforms", "Invalid training spec: column 'rpm' is numeric; transform 'one-hot' does not apply")]
    [InlineData("""{"transforms": {"humidity": ["min-max"]}}""", "transforms", "Invalid training spec: transforms are given for column 'humidity', which is not a feature column")]
    public async Task Post_EnsembleSizeOrToleranceOutOfRange_Returns400NamingTheField(string body, string field, string problemStart)
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsync(TrainingRuns, DeploymentsApiTests.Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await DeploymentsApiTests.ReadProblemAsync(response);
        Assert.Equal([field], problem.Errors!.Keys);
        Assert.StartsWith($"{field}: {problemStart}", problem.Detail, StringComparison.Ordinal);
    }
}
