using EdgePlatform.Agent;
using EdgePlatform.Agent.Core;
using EdgePlatform.Agent.Docker;
using EdgePlatform.Agent.Http;
using EdgePlatform.Agent.Scorer;

if (ScorerHost.Handles(args))
{
    return await ScorerHost.RunAsync(args[1..], CancellationToken.None);
}

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddAgentCore();
builder.Services.AddAgentLinks();
builder.Services.AddOnnxScoring();
builder.Services.AddDockerModelContainers();

var app = builder.Build();
app.MapInferenceProtocolApi();
await app.RunAsync();
return 0;
