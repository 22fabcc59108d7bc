using System.Globalization;
using System.Text;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli.Commands;

/// <summary>
/// Synthetic sensor events shaped like the model's training data: each field drawn around its
/// baseline mean and spread from the model card, with a few events pushed far out on some
/// features, the way a failing machine reads.
/// </summary>
public sealed class DemoEvents(ModelCard card, int seed)
{
    private readonly Random _random = new(seed);

    public byte[] Next(string correlationId, bool anomalous)
    {
        var json = new StringBuilder(160).Append("{\"id\":\"").Append(correlationId).Append('"');
        foreach (var input in card.Inputs)
        {
            var baseline = card.Baseline.FirstOrDefault(b => string.Equals(b.Name, input.Field, StringComparison.Ordinal));
            var mean = baseline?.Mean ?? 0;
            var spread = baseline?.StdDev ?? 1;
            var value = mean + (Normal() * spread * 0.7);
            if (anomalous && _random.NextDouble() < 0.6)
            {
                value = mean + ((_random.NextDouble() < 0.5 ? -1 : 1) * spread * (3 + (2 * _random.NextDouble())));
            }

            json.Append(",\"").Append(input.Field).Append("\":").Append(value.ToString("0.####", CultureInfo.InvariantCulture));
        }

        return Encoding.UTF8.GetBytes(json.Append('}').ToString());
    }

    private double Normal()
    {
        // Box-Muller: two uniforms to one standard normal.
        var u1 = 1.0 - _random.NextDouble();
        var u2 = _random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
