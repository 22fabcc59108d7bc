using System.CommandLine;
using System.Text.Json;
using EdgePlatform.Cli.Commands;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli.Tests.Output;

/// <summary>What a list command writes to a redirected stdout for each <c>-o</c>; these swap the process's console, so they run alone.</summary>
[Collection(SwapsConsole.Name)]
public sealed class ListOutputTests
{
    private static readonly DeviceInfo[] Devices = [CommandColumnsTests.Device("sensor-berlin-0001"), CommandColumnsTests.Device("dev-1")];

    [Theory]
    [InlineData("table")]
    [InlineData("wide")]
    public void List_Redirected_IsPlainColumnsWithoutBoxDrawing(string format)
    {
        var (stdout, _) = Run(format);

        Assert.StartsWith("DEVICE   ", stdout, StringComparison.Ordinal);
        Assert.Equal(3, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.DoesNotContain(stdout, c => c is >= '\u2500' and <= '\u259f');
        Assert.DoesNotContain('\u001b', stdout);
    }

    [Fact]
    public void List_Json_IsTheApiDocumentUnchanged()
    {
        var (stdout, _) = Run("json");

        Assert.Equal(JsonSerializer.Serialize(Devices, ContractsJsonContext.Default.IReadOnlyListDeviceInfo), stdout.TrimEnd('\n'));
    }

    [Fact]
    public void List_Yaml_CarriesTheSameDataAsJson()
    {
        var (yaml, _) = Run("yaml");

        YamlWriterTests.AssertSameData(JsonSerializer.Serialize(Devices, ContractsJsonContext.Default.IReadOnlyListDeviceInfo), yaml);
    }

    [Fact]
    public void List_Empty_WritesNoRowsToStdoutAndSaysSoOnStderr()
    {
        var (stdout, stderr) = Run("table", []);

        Assert.Equal(string.Empty, stdout);
        Assert.Equal("(none)", stderr.Trim());
    }

    [Fact]
    public void Output_UnknownFormat_IsAnErrorListingTheFormats()
    {
        var parse = Root().Parse(["-o", "xml"]);

        var error = Assert.Single(parse.Errors);
        Assert.Equal("--output: 'xml' is not an output format; use one of table, wide, json, yaml", error.Message);
    }

    private static RootCommand Root() => new() { CliOptions.Output };

    private static (string Stdout, string Stderr) Run(string format, DeviceInfo[]? devices = null)
    {
        var parse = Root().Parse(["-o", format]);
        Assert.Empty(parse.Errors);
        var (stdout, stderr, previousOut, previousError) = (new StringWriter(), new StringWriter(), Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            Render.List(parse, devices ?? Devices, ContractsJsonContext.Default.IReadOnlyListDeviceInfo, FleetCommands.DeviceColumns);
        }
        finally
        {
            Console.SetOut(previousOut);
            Console.SetError(previousError);
        }

        return (stdout.ToString(), stderr.ToString());
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SwapsConsole
{
    public const string Name = "Console";
}
