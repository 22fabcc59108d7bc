using EdgePlatform.ControlPlane.Host.Tests.Datasets;
using Microsoft.Playwright;

namespace EdgePlatform.EndToEnd.Tests.Console;

/// <summary>
/// Debian's chromium, headless, driven by Playwright's own driver: no browser is downloaded. Each
/// launch gets a fresh profile, and a laptop-sized window. Screenshots go to
/// <c>EDGEPLATFORM_TEST_ARTIFACTS</c> (tests/run.sh keeps it with the results), or beside the tests.
/// </summary>
public sealed class ConsoleBrowser : IAsyncDisposable
{
    public const string ChromiumVariable = "EDGEPLATFORM_TEST_CHROMIUM";

    /// <summary>A laptop screen: the console must be usable at this size.</summary>
    public static readonly ViewportSize Laptop = new() { Width = 1366, Height = 768 };

    private readonly IPlaywright _playwright;
    private readonly string _profile;

    private ConsoleBrowser(IPlaywright playwright, IBrowserContext context, string profile)
    {
        _playwright = playwright;
        Context = context;
        _profile = profile;
    }

    public IBrowserContext Context { get; }

    public static string ScreenshotDirectory
    {
        get
        {
            var root = Environment.GetEnvironmentVariable("EDGEPLATFORM_TEST_ARTIFACTS") is { Length: > 0 } artifacts
                ? artifacts
                : Path.Combine(AppContext.BaseDirectory, "artifacts");
            var directory = Path.Combine(root, "console-screenshots");
            Directory.CreateDirectory(directory);
            return directory;
        }
    }

    /// <summary>A browser with a fresh profile whose pages resolve relative URLs against <paramref name="baseUrl"/>.</summary>
    public static async Task<ConsoleBrowser> LaunchAsync(string baseUrl)
    {
        // Under CI=true a missing chromium fails here, as every missing service does: never a skip.
        var chromium = TestServices.Require(ChromiumVariable, "Chromium (Debian package chromium)");
        var playwright = await Playwright.CreateAsync();
        var profile = Directory.CreateTempSubdirectory("edgeplatform-chromium-").FullName;
        var context = await playwright.Chromium.LaunchPersistentContextAsync(profile, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            BaseURL = baseUrl,
            ViewportSize = Laptop,
        });
        return new ConsoleBrowser(playwright, context, profile);
    }

    /// <summary>Signs in on the login page with <paramref name="token"/> and lands on the fleet page.</summary>
    public async Task<IPage> SignInAsync(string token)
    {
        var page = Context.Pages.Count > 0 ? Context.Pages[0] : await Context.NewPageAsync();
        await page.GotoAsync("/console/login");
        await page.GetByLabel("API token").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync("**/console/fleet");
        return page;
    }

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });

    public async ValueTask DisposeAsync()
    {
        await Context.CloseAsync();
        _playwright.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // Chromium may still be writing its profile as it exits; it is under the temp directory.
        }
    }
}
