using EdgePlatform.Agent;
using EdgePlatform.Agent.Core;
using EdgePlatform.Agent.Docker;
using EdgePlatform.Agent.Http;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddAgentCore();
builder.Services.AddAgentLinks();
builder.Services.AddOnnxScoring();
builder.Services.AddDockerModelContainers();

var app = builder.Build();
app.MapInferenceProtocolApi();
app.Run();
