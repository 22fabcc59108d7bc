using System.CommandLine;
using System.Text.Json;
using EdgePlatform.Cli.Commands;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Data;

namespace EdgePlatform.Cli.Tests.Commands;

public sealed class DatasetProfileCommandTests
{
    [Fact]
    public void ParseRanges_BothEndsOrOne_ReadsOpenEndsAsNull()
    {
        var ranges = DatasetProfileCommand.ParseRanges(["temperature=-40:85", "speed=0:", "depth=:-1.5e3", "a=b=1:2"]);

        Assert.Equal(new DeclaredRange(-40, 85), ranges["temperature"]);
        Assert.Equal(new DeclaredRange(0, null), ranges["speed"]);
        Assert.Equal(new DeclaredRange(null, -1500), ranges["depth"]);
        Assert.Equal(new DeclaredRange(1, 2), ranges["a=b"]);
    }

    [Theory]
    [InlineData("temperature", "--range: 'temperature' is not COLUMN=MIN:MAX")]
    [InlineData("temperature=0-85", "--range: 'temperature=0-85' is not COLUMN=MIN:MAX")]
    [InlineData("temperature=low:85", "--range: 'low' in 'temperature=low:85' is not a number")]
    public void ParseRanges_Malformed_SaysWhatIsWrong(string text, string problem)
    {
        var exception = Assert.Throws<CliException>(() => DatasetProfileCommand.ParseRanges([text]));

        Assert.StartsWith(problem, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Profile_CsvAsJson_PrintsTheWholeProfile()
    {
        var file = Path.Combine(Path.GetTempPath(), $"profile-{Guid.NewGuid():N}.csv");
        await File.WriteAllTextAsync(file, "temperature,site,label\n20.5,a,ok\n21.5,b,ok\n,a,fault\n20.5,a,ok\n");
        var output = new StringWriter();
        var original = Console.Out;
        try
        {
            Console.SetOut(output);
            var root = new RootCommand { CliOptions.Output, DatasetCommands.Create() };
            var exit = await root.Parse(["dataset", "profile", file, "--label", "label", "--range", "temperature=0:21", "-o", "json"]).InvokeAsync();
            Assert.Equal(0, exit);
        }
        finally
        {
            Console.SetOut(original);
            File.Delete(file);
        }

        var profile = JsonSerializer.Deserialize(output.ToString(), ContractsJsonContext.Default.DatasetProfile)!;
        Assert.Equal(4, profile.Rows);
        Assert.Equal(1, profile.DuplicateRows);
        Assert.Equal(1, profile.Columns[0].Missing);
        Assert.Equal(1, profile.Columns[0].OutsideDeclaredRange);
        Assert.Equal(0.25, profile.Label!.MinorityFraction);
    }
}
