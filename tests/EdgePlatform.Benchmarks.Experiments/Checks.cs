namespace EdgePlatform.Benchmarks.Experiments;

/// <summary>The properties a run must show; the exit code says whether all held.</summary>
internal sealed class Checks
{
    private int _failed;

    public void Require(bool held, string property)
    {
        Console.WriteLine($"{(held ? "held" : "FAILED")}: {property}");
        _failed += held ? 0 : 1;
    }

    public int Report()
    {
        Console.WriteLine(_failed == 0 ? "every statistical property held" : $"{_failed} statistical properties did not hold");
        return _failed == 0 ? 0 : 1;
    }
}
