using System.Net.Http.Json;
using EdgePlatform.Contracts;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgePlatform.ControlPlane.Host.Tests.Broker;

/// <summary>The broker's device identity and topic isolation, seen from MQTT clients.</summary>
public sealed class EmbeddedMqttBrokerTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Connect_EnrolledCredential_Succeeds()
    {
        var enrollment = await EnrollAsync("dev-mqtt-ok");
        using var client = new MqttClientFactory().CreateMqttClient();

        var result = await client.ConnectAsync(Options(enrollment, "dev-mqtt-ok", "dev-mqtt-ok", enrollment.MqttPassword)).WaitAsync(Timeout);

        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
    }

    [Fact]
    public async Task Connect_WrongPassword_IsRefused()
    {
        var enrollment = await EnrollAsync("dev-mqtt-bad");

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await ConnectResultAsync(enrollment, "dev-mqtt-bad", "dev-mqtt-bad", "guess"));
    }

    [Fact]
    public async Task Connect_CredentialReplacedByReEnrollment_IsRefused()
    {
        var first = await EnrollAsync("dev-mqtt-again");
        var second = await EnrollAsync("dev-mqtt-again");

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await ConnectResultAsync(first, "dev-mqtt-again", "dev-mqtt-again", first.MqttPassword));
        Assert.Equal(MqttClientConnectResultCode.Success, await ConnectResultAsync(second, "dev-mqtt-again", "dev-mqtt-again", second.MqttPassword));
    }

    [Fact]
    public async Task Connect_ClientIdOtherThanTheUserName_IsRefused()
    {
        var enrollment = await EnrollAsync("dev-mqtt-id");

        Assert.Equal(MqttClientConnectResultCode.ClientIdentifierNotValid, await ConnectResultAsync(enrollment, "someone-else", "dev-mqtt-id", enrollment.MqttPassword));
    }

    [Fact]
    public async Task Connect_AsTheControlPlaneWithoutItsSecret_IsRefused()
    {
        var enrollment = await EnrollAsync("dev-mqtt-priv");

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await ConnectResultAsync(enrollment, "x", "$control-plane", enrollment.MqttPassword));
    }

    [Fact]
    public async Task Subscribe_AnotherDevicesTopics_IsNotAuthorized()
    {
        var enrollment = await EnrollAsync("dev-mqtt-sub");
        await EnrollAsync("dev-mqtt-victim");
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(Options(enrollment, "dev-mqtt-sub", "dev-mqtt-sub", enrollment.MqttPassword)).WaitAsync(Timeout);

        var result = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(Topics.DeviceFilter("dev-mqtt-victim"))
            .WithTopicFilter(Topics.AllReported)
            .WithTopicFilter(Topics.Desired("dev-mqtt-sub"))
            .Build()).WaitAsync(Timeout);

        Assert.Equal(
            [MqttClientSubscribeResultCode.NotAuthorized, MqttClientSubscribeResultCode.NotAuthorized, MqttClientSubscribeResultCode.GrantedQoS0],
            result.Items.Select(i => i.ResultCode));
    }

    [Theory]
    [InlineData("devices/dev-mqtt-victim/twin/reported")]
    [InlineData("devices/dev-mqtt-pub/twin/desired")]
    [InlineData("events/anything")]
    public async Task Publish_OutsideTheDevicesOwnReportTopics_IsNotAuthorized(string topic)
    {
        var enrollment = await EnrollAsync("dev-mqtt-pub");
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(Options(enrollment, "dev-mqtt-pub", "dev-mqtt-pub", enrollment.MqttPassword)).WaitAsync(Timeout);

        var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload("{}")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build()).WaitAsync(Timeout);

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, result.ReasonCode);
    }

    private static MqttClientOptions Options(EnrollmentResponse enrollment, string clientId, string userName, string password) =>
        new MqttClientOptionsBuilder()
            .WithTcpServer(enrollment.MqttHost, enrollment.MqttPort)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(clientId)
            .WithCredentials(userName, password)
            .WithTimeout(Timeout)
            .Build();

    [Fact]
    public async Task Revoke_ConnectedDevice_SessionClosedReconnectAndReEnrollmentRefused()
    {
        var enrollment = await EnrollAsync("dev-revoked");
        using var client = new MqttClientFactory().CreateMqttClient();
        var disconnected = new TaskCompletionSource<MqttClientDisconnectedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.DisconnectedAsync += args =>
        {
            disconnected.TrySetResult(args);
            return Task.CompletedTask;
        };
        await client.ConnectAsync(Options(enrollment, "dev-revoked", "dev-revoked", enrollment.MqttPassword)).WaitAsync(Timeout);

        using var http = server.CreateClient();
        using var revoke = await http.PostAsync(new Uri("/api/v1/devices/dev-revoked/revoke", UriKind.Relative), null);

        revoke.EnsureSuccessStatusCode();
        await disconnected.Task.WaitAsync(Timeout);
        Assert.NotEqual(MqttClientConnectResultCode.Success, await ConnectResultAsync(enrollment, "dev-revoked", "dev-revoked", enrollment.MqttPassword));
        using var again = await http.PostAsJsonAsync(
            new Uri("/api/v1/enrollments/devices", UriKind.Relative),
            new EnrollmentRequest("dev-revoked", server.EnrollmentKey, null),
            ContractsJsonContext.Default.EnrollmentRequest);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, again.StatusCode);
        var device = await http.GetFromJsonAsync(new Uri("/api/v1/devices/dev-revoked", UriKind.Relative), ContractsJsonContext.Default.DeviceInfo);
        Assert.Equal(DeviceStatuses.Revoked, device!.Status);
    }

    private static async Task<MqttClientConnectResultCode> ConnectResultAsync(EnrollmentResponse enrollment, string clientId, string userName, string password)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(Options(enrollment, clientId, userName, password)).WaitAsync(Timeout);
        return result.ResultCode;
    }

    private async Task<EnrollmentResponse> EnrollAsync(string deviceId)
    {
        using var http = server.CreateClient();
        using var response = await http.PostAsJsonAsync(
            new Uri("/api/v1/enrollments/devices", UriKind.Relative),
            new EnrollmentRequest(deviceId, server.EnrollmentKey, null),
            ContractsJsonContext.Default.EnrollmentRequest);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollmentResponse))!;
    }
}
