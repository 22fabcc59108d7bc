using EdgePlatform.Agent;
using EdgePlatform.Agent.Core;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddAgentCore();
builder.Services.AddAgentLinks();
builder.Services.AddOnnxScoring();

builder.Build().Run();
