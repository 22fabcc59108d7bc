using EdgePlatform.ControlPlane;
using EdgePlatform.ControlPlane.Host.Access;
using EdgePlatform.ControlPlane.Host.Console;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Host.Training;

var builder = WebApplication.CreateSlimBuilder(args);
var bootstrap = builder.AddControlPlaneDefaults();
builder.Services.AddControlPlaneCore();
builder.AddStore(bootstrap);
builder.AddOperatorAccess();
builder.AddArtifacts(bootstrap);
builder.AddDatasets(bootstrap);
builder.AddBroker();
builder.AddMlNetTrainer();
builder.AddOnnxImportChecks();
builder.AddSweeps();
builder.AddFleetMetrics();
builder.AddConsole(bootstrap);

var app = builder.Build();
app.MapControlPlaneApis();
app.MapConsole();
app.Run();

/// <summary>Entry point, visible to integration tests that host the server in-process.</summary>
public partial class Program;
