using System.Net;
using EdgePlatform.Cli;
using EdgePlatform.Contracts;
using EdgePlatform.FleetSim;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EdgePlatform.EndToEnd.Tests.Console;

/// <summary>
/// The web console in a real browser against the real control plane process and simulated
/// fleets: what people see, what they may do by role, and that pages follow the fleet live.
/// </summary>
[Trait("Category", "Integration")]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the test class through IAsyncLifetime.DisposeAsync.")]
public sealed class ConsoleBrowserTests(FleetServerFixture server) : IClassFixture<FleetServerFixture>, IAsyncLifetime
{
    private static readonly float Patience = (float)FleetServerFixture.Patience.TotalMilliseconds;

    private ConsoleBrowser _browser = null!;

    public async Task InitializeAsync() => _browser = await ConsoleBrowser.LaunchAsync(server.Endpoints.HttpUrl);

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    [Fact]
    public async Task RolloutPage_OperatorWatchesARolloutOverSimulatedDevices_FollowsItToCompletionWithoutReloading()
    {
        await using var fleet = await server.StartFleetAsync("web", 40);
        var version = server.Version1;
        var page = await _browser.SignInAsync(await TokenAsync("web-operator", "operator"));
        var rollout = await server.Api.CreateRolloutAsync(
            new CreateRolloutRequest($"{version.Name}:{version.Version}", "fleet=web", null, [new(25, null, 2), new(100, null, 0)], new RolloutGates(MaxFailurePercent: 5, MinDevices: 5)),
            default);

        await page.GotoAsync($"/console/rollouts/{rollout.Id}");
        await page.EvaluateAsync("() => { window.sameDocument = true; }");
        await Expect(page.Locator("#rollout-state")).ToHaveTextAsync(RolloutStates.Completed, new() { Timeout = Patience });

        // The state arrived through the live region, in the document first loaded: no reload.
        Assert.True(await page.EvaluateAsync<bool>("() => window.sameDocument === true"));
        Assert.True(int.Parse(await page.EvaluateAsync<string>("() => document.body.dataset.liveUpdates || '0'"), System.Globalization.CultureInfo.InvariantCulture) > 0);
        await Expect(page.Locator("#rollout-active")).ToHaveTextAsync("40");
        await Expect(page.Locator("#pause")).ToHaveCountAsync(0);
        await ConsoleBrowser.ScreenshotAsync(page, "rollout-completed");

        await page.GotoAsync("/console/fleet?selector=" + Uri.EscapeDataString("fleet=web"));
        await Expect(page.Locator("#fleet-table tbody tr")).ToHaveCountAsync(40);
        await Expect(page.Locator("#fleet-online")).ToHaveTextAsync("40", new() { Timeout = Patience });
        Assert.All(await page.Locator("#fleet-table tbody td.tags").AllInnerTextsAsync(), tags => Assert.Contains("fleet=web", tags, StringComparison.Ordinal));
        await ConsoleBrowser.ScreenshotAsync(page, "fleet");

        await page.Locator("#fleet-table tbody th a").First.ClickAsync();
        await Expect(page.Locator("#device-state")).ToHaveTextAsync(DeviceStatuses.Online);
        await ConsoleBrowser.ScreenshotAsync(page, "device");
        await page.GotoAsync("/console/rollouts");
        await ConsoleBrowser.ScreenshotAsync(page, "rollouts");
    }

    [Fact]
    public async Task RolloutPage_OperatorAbortsARunningRollout_StopsAndTheApiAgrees()
    {
        await using var fleet = await server.StartFleetAsync("web-abort", 20);
        var version = server.Version2;
        var page = await _browser.SignInAsync(await TokenAsync("abort-operator", "operator"));
        var rollout = await server.Api.CreateRolloutAsync(
            new CreateRolloutRequest($"{version.Name}:{version.Version}", "fleet=web-abort", null, [new(10, null, 3600), new(100, null, 0)], new RolloutGates()),
            default);

        await page.GotoAsync($"/console/rollouts/{rollout.Id}");
        await Expect(page.Locator("#rollout-state")).ToHaveTextAsync(RolloutStates.Running);
        await page.GetByRole(AriaRole.Button, new() { Name = "Abort" }).ClickAsync();

        await Expect(page.Locator("#rollout-state")).ToHaveTextAsync(RolloutStates.Aborted);
        await Expect(page.Locator(".notice")).ToHaveTextAsync("Aborted.");
        Assert.Equal(RolloutStates.Aborted, (await server.Api.GetRolloutAsync(rollout.Id, default)).State);
        await ConsoleBrowser.ScreenshotAsync(page, "rollout-aborted");
    }

    [Fact]
    public async Task TrainingJobPage_DataScientistStopsARunningSweep_ItsTrialsAreCancelled()
    {
        var page = await _browser.SignInAsync(await TokenAsync("web-scientist", "data-scientist"));
        var sweep = await server.Api.SubmitSweepAsync(SweepWithoutWorkers("console-stop"), default);

        await page.GotoAsync($"/console/training/{sweep.Id}");
        await Expect(page.Locator("#sweep-status")).ToHaveTextAsync(SweepStatuses.Running);
        await page.GetByRole(AriaRole.Button, new() { Name = "Stop" }).ClickAsync();

        await Expect(page.Locator("#sweep-status")).ToHaveTextAsync(SweepStatuses.Stopped);
        var stopped = await server.Api.GetSweepAsync(sweep.Id, default);
        Assert.Equal(SweepStatuses.Stopped, stopped.Status);
        Assert.Equal(0, stopped.Queued + stopped.Running);
        await ConsoleBrowser.ScreenshotAsync(page, "training-job-stopped");
        await page.GotoAsync("/console/training");
        await ConsoleBrowser.ScreenshotAsync(page, "training");
    }

    [Fact]
    public async Task ExperimentPage_ViewerReadsTheResult_SeesTheIntervalAndNoActions()
    {
        var control = server.Version1;
        var treatment = server.Version2;
        await using var fleet = await server.StartFleetAsync("web-exp", 120, o =>
        {
            o.LabelledShare = 0.5;
            o.Versions[$"{control.Name}:{control.Version}"] = new VersionBehaviour(Accuracy: 0.80);
            o.Versions[$"{treatment.Name}:{treatment.Version}"] = new VersionBehaviour(Accuracy: 0.95);
        });
        var experiment = await server.Api.CreateExperimentAsync(
            new CreateExperimentRequest(
                "console-accuracy",
                [new ExperimentArmRequest("control", $"{control.Name}:{control.Version}"), new ExperimentArmRequest("treatment", $"{treatment.Name}:{treatment.Version}")],
                "fleet=web-exp",
                ExperimentUnits.Device,
                Metric: new ExperimentMetric(ExperimentMetricKinds.Accuracy)),
            default);
        var page = await _browser.SignInAsync(await TokenAsync("web-viewer-exp", "viewer"));

        await page.GotoAsync($"/console/experiments/{experiment.Id}");
        var treatmentRow = page.Locator("#comparisons tbody tr", new() { HasText = "treatment vs control" }).First;
        await Expect(treatmentRow.Locator("td.significant")).ToHaveTextAsync("yes", new() { Timeout = Patience });

        var report = await server.Api.GetExperimentReportAsync(experiment.Id, default);
        Assert.Contains(report.Comparisons, c => c.Arm == "treatment" && c.Significant && c.AbsoluteLower > 0);
        await Expect(page.Locator("svg.chart").First).ToBeVisibleAsync();
        await Expect(page.Locator("#promote")).ToHaveCountAsync(0);
        await ConsoleBrowser.ScreenshotAsync(page, "experiment");
        await page.GotoAsync("/console/experiments");
        await ConsoleBrowser.ScreenshotAsync(page, "experiments");
    }

    [Fact]
    public async Task Console_Viewer_SeesEveryPageButNoActionAndIsRefusedByTheConsoleAndTheApi()
    {
        await using var fleet = await server.StartFleetAsync("web-view", 10);
        var version = server.Version1;
        var rollout = await server.Api.CreateRolloutAsync(
            new CreateRolloutRequest($"{version.Name}:{version.Version}", "fleet=web-view", null, [new(10, null, 3600), new(100, null, 0)], new RolloutGates()),
            default);
        var sweep = await server.Api.SubmitSweepAsync(SweepWithoutWorkers("console-view"), default);
        var viewerToken = await TokenAsync("web-viewer", "viewer");
        var page = await _browser.SignInAsync(viewerToken);

        await page.GotoAsync($"/console/rollouts/{rollout.Id}");
        await Expect(page.Locator("#rollout-state")).ToHaveTextAsync(RolloutStates.Running);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Abort" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Pause" })).ToHaveCountAsync(0);
        await page.GotoAsync($"/console/training/{sweep.Id}");
        await Expect(page.Locator("#sweep-status")).ToHaveTextAsync(SweepStatuses.Running);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Stop" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Audit log" })).ToHaveCountAsync(0);

        // The console's own action, posted with a valid antiforgery token from the viewer's session.
        var status = await page.EvaluateAsync<int>(
            """
            async (url) => {
              const form = new FormData();
              form.append("__RequestVerificationToken", document.querySelector("input[name=__RequestVerificationToken]").value);
              return (await fetch(url, { method: "POST", body: form, redirect: "manual" })).status;
            }
            """,
            $"/console/rollouts/{rollout.Id}?handler=Abort");
        Assert.Equal(403, status);
        Assert.Contains(
            await server.Api.AuditAsync(200, default),
            e => e.Actor == "web-viewer" && e.Action == $"POST /console/rollouts/{rollout.Id}?handler=Abort" && e.Status == 403);
        var audit = await page.GotoAsync("/console/audit");
        Assert.Equal(403, audit!.Status);

        using var viewerApi = new ApiClient(new Uri(server.Endpoints.HttpUrl), viewerToken);
        using var abort = await viewerApi.Http.PostAsync(new Uri($"api/v1/rollouts/{rollout.Id}/abort", UriKind.Relative), null);
        using var stop = await viewerApi.Http.PostAsync(new Uri($"api/v1/sweeps/{sweep.Id}/stop", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Forbidden, abort.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, stop.StatusCode);
        Assert.Equal(RolloutStates.Running, (await server.Api.GetRolloutAsync(rollout.Id, default)).State);
        Assert.Equal(SweepStatuses.Running, (await server.Api.GetSweepAsync(sweep.Id, default)).Status);

        await server.Api.Http.PostAsync(new Uri($"api/v1/rollouts/{rollout.Id}/abort", UriKind.Relative), null);
        await server.Api.Http.PostAsync(new Uri($"api/v1/sweeps/{sweep.Id}/stop", UriKind.Relative), null);
    }

    [Fact]
    public async Task Console_AdminOpensEveryPage_EachRendersAndIsKeptAsAScreenshot()
    {
        var page = await _browser.SignInAsync(await TokenAsync("web-admin", "admin"));
        var version = server.Version1;
        foreach (var (path, name) in new[]
        {
            ("/console/fleet", "fleet-all"),
            ("/console/models", "models"),
            ($"/console/models/{Uri.EscapeDataString(version.Name)}/{Uri.EscapeDataString(version.Version)}", "model-version"),
            ("/console/datasets", "datasets"),
            ("/console/audit", "audit"),
        })
        {
            var response = await page.GotoAsync(path);
            Assert.True(response!.Ok, $"{path} answered {response.Status}");
            await Expect(page.Locator("h1")).ToBeVisibleAsync();
            await ConsoleBrowser.ScreenshotAsync(page, name);
        }

        await Expect(page.Locator("#audit-table")).ToContainTextAsync("POST /console/login");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await page.WaitForURLAsync("**/console/login");
        var after = await page.GotoAsync("/console/fleet");
        Assert.EndsWith("/console/login?ReturnUrl=%2Fconsole%2Ffleet", after!.Url, StringComparison.Ordinal);
        await ConsoleBrowser.ScreenshotAsync(page, "login");
    }

    [Fact]
    public async Task Login_UnknownToken_RefusedWithAMessage()
    {
        var page = Context.Pages.Count > 0 ? Context.Pages[0] : await Context.NewPageAsync();
        await page.GotoAsync("/console/login");
        await page.GetByLabel("API token").FillAsync("ept_not-a-token");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        await Expect(page.Locator("#login-problem")).ToHaveTextAsync("The token is unknown or revoked.");
        Assert.EndsWith("/console/login", page.Url, StringComparison.Ordinal);
    }

    private IBrowserContext Context => _browser.Context;

    private async Task<string> TokenAsync(string name, string role) =>
        (await server.Api.CreateTokenAsync(new CreateTokenRequest(name, role), default)).Token;

    /// <summary>No worker is started: its trials stay queued and the sweep stays running until stopped.</summary>
    private static SweepSpec SweepWithoutWorkers(string model) => new()
    {
        Dataset = "sensor-anomaly",
        Trainers = ["fasttree"],
        MaxTrials = 4,
        Folds = 2,
        ModelName = model,
    };
}
