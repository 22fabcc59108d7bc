using EdgePlatform.Training.Data;

namespace EdgePlatform.Training.Tests.Data;

/// <summary>
/// Every ARFF file Debian's weka package ships parses: real files written by Weka itself, with
/// quoted nominals, escaped quotes in long strings, comments and mixed-case keywords.
/// tests/run.sh installs the package; under CI=true a missing package fails the test.
/// </summary>
public sealed class WekaExamplesTests
{
    [WekaExamplesFact]
    public void Open_EveryArffFileOfTheWekaPackage_Parses()
    {
        var files = WekaExamples.Files();
        Assert.True(files.Count >= 10, $"the weka package should ship at least 10 .arff files under {string.Join(" or ", WekaExamples.Folders)}; found {files.Count}. Install it with apt-get install weka (tests/run.sh does).");

        var failures = new List<string>();
        foreach (var file in files)
        {
            try
            {
                using var reader = TabularFormats.Open(file);
                var (schema, rows) = TabularTestData.ReadAll(reader);
                Assert.NotEmpty(schema.Columns);
                Assert.NotEmpty(rows);
            }
            catch (DatasetFormatException e)
            {
                failures.Add(e.Message);
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [WekaExamplesFact]
    public void Open_WekaIris_HasItsDeclaredShape()
    {
        var iris = WekaExamples.File("iris");
        using var reader = TabularFormats.Open(iris);
        var (schema, rows) = TabularTestData.ReadAll(reader);

        Assert.Equal(5, schema.Columns.Count);
        Assert.Equal(150, rows.Count);
        Assert.Equal(["Iris-setosa", "Iris-versicolor", "Iris-virginica"], schema.Columns[4].Categories);
        Assert.Equal(50, rows.Count(r => (string?)r[4] == "Iris-virginica"));
        TabularTestData.Close(5.1, (double)rows[0][0]!);
    }

    [WekaExamplesFact]
    public void Open_WekaLabor_ReadsMissingValues()
    {
        var labor = WekaExamples.File("labor");
        using var reader = TabularFormats.Open(labor);
        var (schema, rows) = TabularTestData.ReadAll(reader);

        Assert.Equal(57, rows.Count);
        Assert.Contains(rows, r => r.Any(v => v is null || (v is double d && double.IsNaN(d))));
        Assert.Equal(ColumnKind.Categorical, schema.Columns[^1].Kind);
    }
}
