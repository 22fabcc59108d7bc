using System.CommandLine;
using EdgePlatform.Oci.Images;

namespace EdgePlatform.Cli.Commands;

/// <summary><c>edgectl image base</c>: writes a scorer base image into an OCI image layout, for deployment/scripts/build-scorer-image.sh.</summary>
public static class ImageCommands
{
    public static Command Create() =>
        new("image", "Container images of the scorer, built without pulling anything") { Base() };

    private static Command Base()
    {
        var rootfs = new Option<DirectoryInfo>("--rootfs") { Description = "The image's root filesystem: the published scorer under /opt/edgeplatform/scorer, its libraries, /etc/passwd, /tmp", Required = true };
        var platform = new Option<string>("--platform") { Description = "linux/amd64 or linux/arm64", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "OCI image layout to write into; an image of another platform already there is kept beside this one", Required = true };
        var command = new Command("base", "Write the scorer base image (one reproducible layer of --rootfs, the scorer's entrypoint and health check) as one platform of an OCI image layout")
        {
            rootfs, platform, output,
        };
        command.SetAction(async (parse, ct) =>
        {
            var root = parse.GetValue(rootfs)!;
            if (!File.Exists(Path.Combine(root.FullName, ScorerImage.Executable.TrimStart('/'))))
            {
                throw new CliException($"--rootfs {root.FullName} has no {ScorerImage.Executable}: publish the agent there first (deployment/scripts/build-scorer-image.sh does)");
            }

            var target = OciPlatform.Parse(parse.GetValue(platform)!) is { } parsed && (parsed == OciPlatform.LinuxAmd64 || parsed == OciPlatform.LinuxArm64)
                ? parsed
                : throw new CliException($"--platform '{parse.GetValue(platform)}' is not linux/amd64 or linux/arm64");
            var layout = await OciImageLayout.CreateOrOpenAsync(parse.GetValue(output)!.FullName, ct).ConfigureAwait(false);
            var layer = await layout.WriteLayerAsync(OciLayerWriter.EntriesOf(root.FullName), ct).ConfigureAwait(false);
            var entry = await layout.WriteImageAsync(ScorerImage.BaseConfig(target, [layer.DiffId]), [layer.Descriptor], ct).ConfigureAwait(false);
            var index = await layout.ReadIndexAsync(ct).ConfigureAwait(false);
            await layout.WriteIndexAsync(index.With(entry), ct).ConfigureAwait(false);
            Console.Out.WriteLine($"{target} {entry.Digest} (layer {layer.Descriptor.Digest}, {layer.Descriptor.Size:N0} bytes) in {layout.Root}");
            return 0;
        });
        return command;
    }
}
