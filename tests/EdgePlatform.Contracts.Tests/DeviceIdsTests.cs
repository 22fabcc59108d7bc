namespace EdgePlatform.Contracts.Tests;

public class DeviceIdsTests
{
    [Theory]
    [InlineData("dev-1")]
    [InlineData("0")]
    [InlineData("edge.gw_01-a")]
    public void Describe_ValidId_Null(string id)
    {
        Assert.Null(DeviceIds.Describe(id));
        Assert.True(DeviceIds.IsValid(id));
    }

    [Fact]
    public void Describe_MaxLength_Valid()
    {
        Assert.Null(DeviceIds.Describe(new string('a', DeviceIds.MaxLength)));
    }

    [Theory]
    [InlineData(null, "is required")]
    [InlineData("", "is required")]
    [InlineData("-dev", "must start with a lowercase letter or a digit")]
    [InlineData(".dev", "must start with a lowercase letter or a digit")]
    [InlineData("Dev", "must start with a lowercase letter or a digit")]
    [InlineData("dev/1", "may hold only lowercase letters, digits, '.', '_' and '-' (found '/')")]
    [InlineData("dev+", "may hold only lowercase letters, digits, '.', '_' and '-' (found '+')")]
    [InlineData("dev#", "may hold only lowercase letters, digits, '.', '_' and '-' (found '#')")]
    [InlineData("devA", "may hold only lowercase letters, digits, '.', '_' and '-' (found 'A')")]
    [InlineData("dev 1", "may hold only lowercase letters, digits, '.', '_' and '-' (found ' ')")]
    [InlineData("dév", "may hold only lowercase letters, digits, '.', '_' and '-' (found 'é')")]
    public void Describe_InvalidId_SaysWhy(string? id, string expected)
    {
        Assert.Equal(expected, DeviceIds.Describe(id));
        Assert.False(DeviceIds.IsValid(id));
    }

    [Fact]
    public void Describe_TooLong_SaysTheLimit()
    {
        Assert.Equal("is longer than 63 characters", DeviceIds.Describe(new string('a', DeviceIds.MaxLength + 1)));
    }
}
