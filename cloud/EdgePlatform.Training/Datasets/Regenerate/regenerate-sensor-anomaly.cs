#:project ../../EdgePlatform.Training.csproj

// Rewrites the shipped dataset from its generator:
//   dotnet run cloud/EdgePlatform.Training/Datasets/Regenerate/regenerate-sensor-anomaly.cs
// A test fails whenever the shipped file and the generator disagree, so run this after
// changing the generator, and commit both together.
using EdgePlatform.Training.Datasets;

var path = Path.GetFullPath(Path.Combine(AppContext.GetData("EntryPointFileDirectoryPath") as string ?? ".", "..", "sensor-anomaly.csv"));
using (var writer = new StreamWriter(path, append: false, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false)))
{
    SensorDatasetGenerator.Write(writer, SensorDatasetGenerator.DefaultRows, SensorDatasetGenerator.DefaultSeed);
}

Console.WriteLine($"Wrote {path}");
