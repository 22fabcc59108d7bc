namespace EdgePlatform.Agent.Core.Ports;

/// <summary>What the scoring path has seen, as totals that only grow; probation reads the change since activation.</summary>
public interface IModelHealth
{
    ModelHealthSample Read();
}

public readonly record struct ModelHealthSample(long Scored, long Errors);
