using EdgePlatform.Agent;
using EdgePlatform.Agent.Core;
using EdgePlatform.Agent.Http;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddAgentCore();
builder.Services.AddAgentLinks();
builder.Services.AddOnnxScoring();

var app = builder.Build();
app.MapInferenceProtocolApi();
app.Run();
