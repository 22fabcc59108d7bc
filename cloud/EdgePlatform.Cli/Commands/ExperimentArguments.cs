using System.Globalization;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli.Commands;

/// <summary>
/// Turns the words of <c>edgectl experiment create|promote|power</c> into API requests. Each refusal
/// names the option and the value, says why, and shows what would be accepted, before anything is sent.
/// </summary>
public static class ExperimentArguments
{
    public static IReadOnlyList<string> Units { get; } = [ExperimentUnits.Device, ExperimentUnits.Group, ExperimentUnits.Event];

    public static IReadOnlyList<string> MetricKinds => ExperimentMetricKinds.All;

    /// <summary>
    /// An arm as <c>NAME=MODEL[:WEIGHT]</c>, the model as <c>name:version</c> or <c>name@alias</c>:
    /// <c>control=det:1</c>, <c>treatment=det:2:3</c> (weight 3), <c>treatment=det@staging:0.5</c>.
    /// A bare <c>name</c> is passed on as it is, for the server to resolve or refuse.
    /// </summary>
    public static ExperimentArmRequest ParseArm(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        var name = (equals < 0 ? text : text[..equals]).Trim();
        var model = equals < 0 ? string.Empty : text[(equals + 1)..].Trim();
        if (name.Length == 0)
        {
            throw new CliException($"--arm '{text}': the arm has no name; write NAME=MODEL:VERSION[:WEIGHT], e.g. control=detector:1");
        }

        if (model.Length == 0)
        {
            throw new CliException($"--arm '{text}': arm '{name}' has no model; write {name}=MODEL:VERSION[:WEIGHT] or {name}=MODEL@ALIAS[:WEIGHT]");
        }

        var parts = model.Split(':');
        string? weightText = parts.Length switch
        {
            3 => parts[2],
            2 when parts[0].Contains('@', StringComparison.Ordinal) => parts[1],
            > 3 => throw new CliException($"--arm '{text}': '{model}' is not MODEL:VERSION[:WEIGHT] or MODEL@ALIAS[:WEIGHT]"),
            _ => null,
        };
        var reference = weightText is null ? model : model[..model.LastIndexOf(':')];
        if (reference.Split(':', '@').Any(p => p.Trim().Length == 0))
        {
            throw new CliException($"--arm '{text}': '{reference}' is not a model; write MODEL:VERSION or MODEL@ALIAS");
        }

        double? weight = null;
        if (weightText is not null)
        {
            weight = double.TryParse(weightText, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)
                ? value
                : throw new CliException($"--arm '{text}': weight '{weightText}' is not a number");
            if (value <= 0)
            {
                throw new CliException($"--arm '{text}': weight {weightText} must be greater than 0 (weights are relative shares, e.g. 1 and 1 for 50/50)");
            }
        }

        return new ExperimentArmRequest(name, reference, weight);
    }

    /// <summary>Every arm, the first being the control: at least two, no name twice.</summary>
    public static IReadOnlyList<ExperimentArmRequest> ParseArms(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var arms = texts.Select(ParseArm).ToList();
        if (arms.Count < 2)
        {
            throw new CliException($"--arm: an experiment needs at least two arms, the control first (got {arms.Count}); e.g. --arm control=detector:1 --arm treatment=detector:2");
        }

        var twice = arms.GroupBy(a => a.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
        {
            throw new CliException($"--arm: arm '{twice.Key}' is named {twice.Count()} times; each arm needs its own name");
        }

        return arms;
    }

    public static string ParseUnit(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var unit = text.Trim().ToLowerInvariant();
        return Units.Contains(unit)
            ? unit
            : throw new CliException($"--unit: '{text}' is not a unit of assignment; use one of {string.Join(", ", Units)} (device: each device; group: devices sharing a --group-tag value; event: each event by --key-field)");
    }

    public static string ParseMetricKind(string kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        var metric = kind.Trim().ToLowerInvariant();
        return MetricKinds.Contains(metric) ? metric : throw new CliException($"--metric: '{kind}' is not a metric; use one of {string.Join(", ", MetricKinds)}");
    }

    /// <summary>The primary metric; <paramref name="outcome"/> only, and always, with <c>outcome-rate</c>.</summary>
    public static ExperimentMetric ParseMetric(string kind, string? outcome)
    {
        var metric = ParseMetricKind(kind);
        if (metric == ExperimentMetricKinds.OutcomeRate)
        {
            if (outcome is null)
            {
                throw new CliException($"--metric outcome-rate needs --outcome, one of {string.Join(", ", ExperimentOutcomes.All)}");
            }

            var named = outcome.Trim().ToLowerInvariant();
            return ExperimentOutcomes.All.Contains(named)
                ? new ExperimentMetric(metric, named)
                : throw new CliException($"--outcome: '{outcome}' is not an outcome; use one of {string.Join(", ", ExperimentOutcomes.All)}");
        }

        return outcome is null
            ? new ExperimentMetric(metric)
            : throw new CliException($"--outcome applies only to --metric outcome-rate, not to {metric}");
    }

    /// <summary>How long from now: <c>90s</c>, <c>30m</c>, <c>12h</c>, <c>7d</c> or <c>2w</c>; more than zero.</summary>
    public static TimeSpan ParseDuration(string text, string option)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        var (number, unit) = trimmed.Length > 0 && char.IsAsciiLetter(trimmed[^1]) ? (trimmed[..^1], char.ToLowerInvariant(trimmed[^1])) : (trimmed, 's');
        var seconds = unit switch
        {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => 0,
        };
        if (seconds == 0
            || !double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            || !double.IsFinite(value)
            || value * seconds > TimeSpan.MaxValue.TotalSeconds / 2)
        {
            throw new CliException($"{option}: '{text}' is not a duration such as 90s, 30m, 12h, 7d or 2w");
        }

        return value > 0 ? TimeSpan.FromSeconds(value * seconds) : throw new CliException($"{option}: '{text}' must be longer than zero");
    }

    /// <summary>The end date from <c>--ends-at</c> (ISO 8601; without an offset, this machine's time zone) or <c>--duration</c> from <paramref name="now"/>; never both, never in the past.</summary>
    public static DateTimeOffset? ParseEnd(string? endsAt, string? duration, DateTimeOffset now)
    {
        if (endsAt is not null && duration is not null)
        {
            throw new CliException("--ends-at and --duration both set the end date; give one");
        }

        if (duration is not null)
        {
            return now + ParseDuration(duration, "--duration");
        }

        if (endsAt is null)
        {
            return null;
        }

        if (!DateTimeOffset.TryParse(endsAt, CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var end))
        {
            throw new CliException($"--ends-at: '{endsAt}' is not a date and time such as 2026-12-24T18:00:00Z");
        }

        return end > now ? end : throw new CliException($"--ends-at: {end:O} is not in the future");
    }

    /// <summary>A significance level between 0 and 0.5 (two-sided tests at 0.05 are the usual choice).</summary>
    public static double? CheckAlpha(double? alpha, string option = "--alpha") =>
        alpha is null or (> 0 and <= 0.5) ? alpha : throw new CliException($"{option}: {Number(alpha.Value)} must be above 0 and at most 0.5, e.g. 0.05");

    /// <summary>The thresholds that stop the experiment; none given is no guardrail object at all.</summary>
    public static ExperimentGuardrails? ParseGuardrails(double? maxP99Ms, double? maxErrorRate, double? maxDriftPsi)
    {
        if (maxP99Ms is { } p99 && !(p99 > 0 && double.IsFinite(p99)))
        {
            throw new CliException($"--max-p99-ms: {Number(p99)} must be a latency above 0 milliseconds");
        }

        if (maxErrorRate is { } errors && !(errors is > 0 and <= 1))
        {
            throw new CliException($"--max-error-rate: {Number(errors)} must be a fraction of events above 0 and at most 1, e.g. 0.01");
        }

        if (maxDriftPsi is { } psi && !(psi > 0 && double.IsFinite(psi)))
        {
            throw new CliException($"--max-drift-psi: {Number(psi)} must be above 0 (0.1 is moderate drift, 0.25 large)");
        }

        return maxP99Ms is null && maxErrorRate is null && maxDriftPsi is null ? null : new ExperimentGuardrails(maxP99Ms, maxErrorRate, maxDriftPsi);
    }

    /// <summary>The rollout a promotion starts: cumulative percentages such as <c>10,50,100</c>, each baking <paramref name="bake"/>.</summary>
    public static IReadOnlyList<RolloutStage>? ParseStages(string? stages, string? bake)
    {
        if (stages is null)
        {
            return bake is null ? null : throw new CliException("--bake needs --stages, e.g. --stages 10,50,100 --bake 5m");
        }

        var bakeSeconds = bake is null ? 0 : (int)Math.Min(int.MaxValue, ParseDuration(bake, "--bake").TotalSeconds);
        var result = new List<RolloutStage>();
        foreach (var part in stages.Split(',', StringSplitOptions.TrimEntries))
        {
            var number = part.EndsWith('%') ? part[..^1] : part;
            if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var percent) || !(percent is > 0 and <= 100))
            {
                throw new CliException($"--stages '{stages}': '{part}' is not a percentage of the devices above 0 and at most 100");
            }

            if (result.Count > 0 && percent <= result[^1].Percent)
            {
                throw new CliException($"--stages '{stages}': stages are cumulative, so each must be larger than the one before ({Number(percent)} follows {Number(result[^1].Percent!.Value)})");
            }

            result.Add(new RolloutStage(percent, null, bakeSeconds));
        }

        return result;
    }

    /// <summary>The power calculator's request, checked: rates between 0 and 1, an effect above 0, at least two arms.</summary>
    public static PowerRequest ParsePower(string metric, double baseline, double mde, double? sd, double? alpha, double? power, int? arms)
    {
        var kind = ParseMetricKind(metric);
        if ((kind is ExperimentMetricKinds.Accuracy or ExperimentMetricKinds.OutcomeRate or ExperimentMetricKinds.Auc) && !(baseline is > 0 and < 1))
        {
            throw new CliException($"--baseline: {Number(baseline)} must be a rate above 0 and below 1 for {kind}, e.g. 0.80");
        }

        if (!(mde > 0 && double.IsFinite(mde)))
        {
            throw new CliException($"--mde: {Number(mde)} must be an absolute difference above 0, e.g. 0.02 for two points of accuracy");
        }

        if (sd is { } deviation && !(deviation > 0 && double.IsFinite(deviation)))
        {
            throw new CliException($"--sd: {Number(deviation)} must be a standard deviation above 0");
        }

        if (sd is null && (kind is ExperimentMetricKinds.LogLoss or ExperimentMetricKinds.Mae))
        {
            throw new CliException($"--sd is needed for {kind}: the standard deviation of the per-unit metric (a rate's follows from its baseline, a mean's does not)");
        }

        if (power is { } wanted && !(wanted is > 0 and < 1))
        {
            throw new CliException($"--power: {Number(wanted)} must be a probability above 0 and below 1, e.g. 0.8");
        }

        if (arms is < 2)
        {
            throw new CliException($"--arms: {arms} must be at least 2 (the control and one treatment)");
        }

        return new PowerRequest(kind, baseline, mde, sd, CheckAlpha(alpha), power, arms);
    }

    private static string Number(double value) => value.ToString("0.######", CultureInfo.InvariantCulture);
}
