namespace EdgePlatform.Agent.Docker;

/// <summary>The labels that mark a container as a model container of one agent, and say which release it runs.</summary>
public static class ContainerLabels
{
    /// <summary>The device whose agent created it; the agent removes only containers carrying its own.</summary>
    public const string Device = "org.edgeplatform.agent.device";

    public const string Model = "org.edgeplatform.model.name";

    public const string Version = "org.edgeplatform.model.version";

    public const string ManifestDigest = "org.edgeplatform.model.manifest-digest";
}
