using System.Globalization;

namespace EdgePlatform.Training.Datasets;

/// <summary>
/// Simulates readings from a fleet of industrial centrifugal pumps, with labelled fault
/// episodes (bearing wear, cavitation, motor overload). The shipped
/// <c>sensor-anomaly.csv</c> is <c>Write(writer, DefaultRows, DefaultSeed)</c>; see
/// <c>Datasets/README.md</c> for what the columns mean.
/// </summary>
public static class SensorDatasetGenerator
{
    public const int DefaultRows = 4000;
    public const int DefaultSeed = 20250301;
    public const string LabelColumn = "anomaly";

    public static IReadOnlyList<string> FeatureColumns { get; } =
        ["temperature_c", "vibration_mm_s", "pressure_bar", "rpm", "current_a"];

    public static IReadOnlyList<string> Columns { get; } =
        ["timestamp", "machine_id", .. FeatureColumns, LabelColumn];

    private const int PumpCount = 12;
    private static readonly DateTimeOffset FirstReading = new(2025, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan ReadingInterval = TimeSpan.FromMinutes(10);

    // Per reading, tuned so that about 6% of readings fall inside a fault episode. 2-pole
    // pumps fail more often: at twice the speed they need more suction head (cavitation)
    // and their bearings wear faster.
    private const double FourPoleFaultStartProbability = 0.010;
    private const double TwoPoleFaultStartProbability = 0.015;

    /// <summary>
    /// Writes a header and <paramref name="rows"/> readings, round-robin over the pumps,
    /// one reading per pump every ten minutes. The output depends only on the arguments:
    /// invariant culture, <c>\n</c> line endings, and <see cref="Random"/>'s seeded
    /// algorithm, which .NET keeps stable across versions for exactly this use.
    /// </summary>
    public static void Write(TextWriter writer, int rows, int seed)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);

        var random = new Random(seed);
        var pumps = new Pump[PumpCount];
        for (var i = 0; i < pumps.Length; i++)
        {
            pumps[i] = Pump.Create(i + 1, random);
        }

        writer.Write(string.Join(',', Columns));
        writer.Write('\n');
        for (var row = 0; row < rows; row++)
        {
            var pump = pumps[row % PumpCount];
            var timestamp = FirstReading + (ReadingInterval * (row / PumpCount));
            var reading = pump.Next(timestamp, random);
            writer.Write(string.Create(
                CultureInfo.InvariantCulture,
                $"{timestamp:yyyy-MM-ddTHH:mm:ssZ},{pump.Id},{reading.TemperatureC:F2},{reading.VibrationMmS:F3},{reading.PressureBar:F3},{reading.Rpm:F0},{reading.CurrentA:F2},{(reading.Anomaly ? "true" : "false")}"));
            writer.Write('\n');
        }
    }

    private enum Fault
    {
        None,
        BearingWear,
        Cavitation,
        Overload,
    }

    private readonly record struct Reading(double TemperatureC, double VibrationMmS, double PressureBar, double Rpm, double CurrentA, bool Anomaly);

    private sealed class Pump
    {
        public required string Id { get; init; }
        public required double SynchronousRpm { get; init; }
        public required double RatedCurrentA { get; init; }
        public required double DesignPressureBar { get; init; }
        public required double ThermalRiseC { get; init; }
        public required double BaseVibrationMmS { get; init; }
        public required double FaultStartProbability { get; init; }

        private double _load = 0.8;
        private Fault _fault;
        private int _faultLength;
        private int _faultStep;

        public static Pump Create(int number, Random random) => new()
        {
            Id = string.Create(CultureInfo.InvariantCulture, $"pump-{number:D2}"),
            // Half the fleet runs 4-pole motors, half 2-pole: the rpm feature alone says little.
            SynchronousRpm = number <= PumpCount / 2 ? 1500 : 3000,
            FaultStartProbability = number <= PumpCount / 2 ? FourPoleFaultStartProbability : TwoPoleFaultStartProbability,
            RatedCurrentA = Uniform(random, 18, 42),
            DesignPressureBar = Uniform(random, 3.5, 7.0),
            ThermalRiseC = Uniform(random, 22, 32),
            BaseVibrationMmS = Uniform(random, 1.2, 2.4),
        };

        public Reading Next(DateTimeOffset timestamp, Random random)
        {
            var hour = timestamp.Hour + (timestamp.Minute / 60.0);
            var ambientC = 21 + (6 * Math.Sin(2 * Math.PI * (hour - 9) / 24));

            // Demand follows the day shift; the load wanders around it.
            var demand = 0.78 + (0.12 * Math.Sin(2 * Math.PI * (hour - 7) / 24));
            _load = Math.Clamp(_load + (0.25 * (demand - _load)) + (0.03 * Gaussian(random)), 0.5, 1.05);

            var load = _load;
            var temperature = ambientC + (ThermalRiseC * (0.6 + (0.5 * load))) + (0.8 * Gaussian(random));
            var vibration = BaseVibrationMmS * (0.85 + (0.3 * load)) * Math.Exp(0.12 * Gaussian(random));
            var pressure = (DesignPressureBar * (0.8 + (0.25 * load))) + (0.08 * Gaussian(random));
            var slip = 0.01 + (0.015 * load);
            var rpm = (SynchronousRpm * (1 - slip)) + (4 * Gaussian(random));
            var current = (RatedCurrentA * (0.35 + (0.65 * load))) + (0.4 * Gaussian(random));

            // Benign disturbances that look like the start of a fault: they keep the
            // classes overlapping, as on a real plant floor.
            var disturbance = random.NextDouble();
            if (disturbance < 0.03)
            {
                // Demand peak: the motor works harder but within rating.
                var surge = Uniform(random, 0.08, 0.16);
                current += RatedCurrentA * surge;
                temperature += Uniform(random, 2, 6);
                rpm -= SynchronousRpm * 0.004;
            }
            else if (disturbance < 0.05)
            {
                // Valve movement or a passing truck: a short vibration spike.
                vibration += Uniform(random, 0.8, 2.5);
            }
            else if (disturbance < 0.07)
            {
                // Low suction tank: pressure sags without the pump cavitating.
                pressure -= DesignPressureBar * Uniform(random, 0.06, 0.16);
            }

            if (_fault == Fault.None && random.NextDouble() < FaultStartProbability)
            {
                var kind = random.NextDouble();
                _fault = kind < 0.4 ? Fault.BearingWear : kind < 0.7 ? Fault.Cavitation : Fault.Overload;
                _faultLength = random.Next(3, 9);
                _faultStep = 0;
            }

            var anomaly = _fault != Fault.None;
            if (anomaly)
            {
                // Faults develop: the first readings of an episode are barely distinguishable.
                var severity = 0.35 + (0.65 * (_faultStep + 1) / _faultLength);
                switch (_fault)
                {
                    case Fault.BearingWear:
                        vibration += severity * Uniform(random, 1.5, 4.5);
                        temperature += severity * Uniform(random, 3, 10);
                        current += severity * 0.03 * RatedCurrentA;
                        break;
                    case Fault.Cavitation:
                        pressure -= severity * DesignPressureBar * Uniform(random, 0.1, 0.3);
                        vibration += severity * Uniform(random, 1.2, 3.5) * Math.Exp(0.3 * Gaussian(random));
                        rpm += severity * SynchronousRpm * 0.003;
                        current -= severity * 0.05 * RatedCurrentA;
                        break;
                    case Fault.Overload:
                        current += severity * RatedCurrentA * Uniform(random, 0.12, 0.35);
                        temperature += severity * Uniform(random, 4, 12);
                        rpm -= severity * SynchronousRpm * 0.008;
                        break;
                    case Fault.None:
                    default:
                        break;
                }

                if (++_faultStep >= _faultLength)
                {
                    _fault = Fault.None;
                }
            }

            return new Reading(temperature, Math.Max(0.05, vibration), Math.Max(0, pressure), rpm, Math.Max(0, current), anomaly);
        }
    }

    private static double Uniform(Random random, double min, double max) => min + ((max - min) * random.NextDouble());

    // Box-Muller: one normal deviate per call keeps the random stream easy to reason about.
    private static double Gaussian(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
