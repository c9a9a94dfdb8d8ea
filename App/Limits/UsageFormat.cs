using System.Data;
using System.Data.Common;
using System.Globalization;

namespace AgentSpace.Limits;

/// <summary>How amounts and periods read in messages and on the Usage page.</summary>
public static class UsageFormat
{
    /// <summary>Dollars with cents, and up to four decimals for the small amounts single calls cost: $0.0042, $12.50.</summary>
    public static string Usd(decimal amount) => "$" + Math.Round(amount, 4, MidpointRounding.AwayFromZero).ToString("#,0.00##", CultureInfo.InvariantCulture);

    public static string Percent(decimal fraction) => Math.Floor(fraction * 100).ToString("0", CultureInfo.InvariantCulture) + "%";

    public static string Tokens(long tokens) => tokens.ToString("#,0", CultureInfo.InvariantCulture);

    /// <summary>A UTC moment as the limits' messages name it: "2026-11-02 00:00 UTC".</summary>
    public static string UtcTime(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}

/// <summary>The calendar periods the limits count in, always UTC.</summary>
public readonly record struct UsagePeriods(DateTimeOffset Now)
{
    public DateTimeOffset DayStart => new(Now.UtcDateTime.Date, TimeSpan.Zero);

    public DateTimeOffset NextDay => DayStart.AddDays(1);

    public DateTimeOffset MonthStart => new(Now.UtcDateTime.Year, Now.UtcDateTime.Month, 1, 0, 0, 0, TimeSpan.Zero);

    public DateTimeOffset NextMonth => MonthStart.AddMonths(1);
}

internal static class DbCommandExtensions
{
    public static DbCommand With(this DbCommand cmd, string name, object? value, DbType type)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.DbType = type;
        p.Value = value ?? DBNull.Value;
        cmd.Parameters.Add(p);
        return cmd;
    }

    public static decimal? NullableDecimal(this DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetDecimal(ordinal);
}
