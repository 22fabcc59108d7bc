using System.Globalization;

namespace EdgePlatform.Training.Sweeps;

/// <summary>
/// One dimension of a trainer's search space. The search moves in the unit interval; a log-scale
/// dimension maps it geometrically, so a step means the same factor anywhere in the range. An
/// integer dimension rounds, and a choice among named options is an integer index into them.
/// </summary>
public sealed record HyperParameter(string Name, double Min, double Max, double Default, bool LogScale = false, bool IsInteger = false)
{
    /// <summary>Where <paramref name="value"/> lies in the unit interval.</summary>
    public double ToUnit(double value)
    {
        var clamped = Math.Clamp(value, Min, Max);
        if (Max <= Min)
        {
            return 0;
        }

        return LogScale
            ? (Math.Log(clamped) - Math.Log(Min)) / (Math.Log(Max) - Math.Log(Min))
            : (clamped - Min) / (Max - Min);
    }

    /// <summary>The value at <paramref name="unit"/> (clamped into [0, 1]), rounded for an integer dimension.</summary>
    public double FromUnit(double unit)
    {
        var u = Math.Clamp(unit, 0, 1);
        var value = LogScale ? Math.Exp(Math.Log(Min) + (u * (Math.Log(Max) - Math.Log(Min)))) : Min + (u * (Max - Min));
        return Math.Clamp(IsInteger ? Math.Round(value) : value, Min, Max);
    }

    /// <summary>Checks a proposed value: inside the range, and whole for an integer dimension.</summary>
    public void Check(string trainer, double value)
    {
        if (!double.IsFinite(value) || value < Min || value > Max || (IsInteger && value != Math.Round(value)))
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"Trainer '{trainer}': parameter '{Name}' is {value}; it must be {(IsInteger ? "a whole number " : string.Empty)}between {Min} and {Max}."),
                nameof(value));
        }
    }

    /// <summary>The value as lineage records it: a whole number without decimals, else round-trip precision.</summary>
    public string Format(double value) =>
        IsInteger ? ((long)value).ToString(CultureInfo.InvariantCulture) : value.ToString("R", CultureInfo.InvariantCulture);
}
