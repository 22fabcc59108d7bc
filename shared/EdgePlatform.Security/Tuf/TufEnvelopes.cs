using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace EdgePlatform.Security.Tuf;

/// <summary>Creating, reading and checking signed metadata documents.</summary>
public static class TufEnvelopes
{
    public static SignedEnvelope Create<T>(T document, JsonTypeInfo<T> type, IEnumerable<TufSigningKey> keys, DateTimeOffset now)
    {
        var signed = JsonSerializer.SerializeToElement(document, type);
        var canonical = CanonicalJson.Serialize(signed);
        return new SignedEnvelope(signed, [.. keys.Select(k => k.Sign(canonical, now))]);
    }

    /// <summary>Adds signatures to a document, e.g. a new root countersigned by the old root's keys.</summary>
    public static SignedEnvelope AddSignatures(SignedEnvelope envelope, IEnumerable<TufSigningKey> keys, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var canonical = CanonicalJson.Serialize(envelope.Signed);
        var added = keys.Select(k => k.Sign(canonical, now));
        return envelope with { Signatures = [.. envelope.Signatures, .. added] };
    }

    public static byte[] Serialize(SignedEnvelope envelope) =>
        JsonSerializer.SerializeToUtf8Bytes(envelope, TufJsonContext.Default.SignedEnvelope);

    public static SignedEnvelope Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var envelope = JsonSerializer.Deserialize(json, TufJsonContext.Default.SignedEnvelope);
            if (envelope is not { Signatures: not null } || envelope.Signed.ValueKind != JsonValueKind.Object)
            {
                throw new TufFormatException("metadata must be an object with 'signed' and 'signatures'");
            }

            return envelope;
        }
        catch (JsonException ex)
        {
            throw new TufFormatException($"metadata is not valid JSON: {ex.Message}", ex);
        }
    }

    /// <summary>Reads the signed document, checking its <c>type</c> so one role's file cannot pass as another's.</summary>
    public static T Read<T>(SignedEnvelope envelope, JsonTypeInfo<T> type, string role)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        if (!envelope.Signed.TryGetProperty("type", out var kind) || kind.ValueKind != JsonValueKind.String || kind.GetString() != role)
        {
            throw new TufFormatException($"the document is not {role} metadata");
        }

        try
        {
            var document = envelope.Signed.Deserialize(type) ?? throw new TufFormatException($"{role} metadata is empty");
            var missing = document switch
            {
                RootMetadata root when root.Keys is null || root.Roles is null => "keys and roles",
                TargetsMetadata targets when targets.Targets is null => "targets",
                TimestampMetadata timestamp when timestamp.Targets is null => "the targets it pins",
                _ => null,
            };
            return missing is null ? document : throw new TufFormatException($"{role} metadata lacks {missing}");
        }
        catch (JsonException ex)
        {
            throw new TufFormatException($"{role} metadata does not parse: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The distinct keys of <paramref name="role"/> (as <paramref name="root"/> names them) whose
    /// signatures over the document verify. A key signing twice counts once; signatures by keys
    /// outside the role, or that do not verify, count for nothing.
    /// </summary>
    public static IReadOnlySet<string> ValidRoleSigners(SignedEnvelope envelope, RootMetadata root, string role)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        ArgumentNullException.ThrowIfNull(root);
        var valid = new HashSet<string>(StringComparer.Ordinal);
        if (!root.Roles.TryGetValue(role, out var roleKeys))
        {
            return valid;
        }

        var canonical = CanonicalJson.Serialize(envelope.Signed);
        foreach (var signature in envelope.Signatures)
        {
            // An incomplete entry is no signature; like a stranger's, it counts for nothing.
            if (signature?.KeyId is null || signature.Sig is null
                || valid.Contains(signature.KeyId)
                || !roleKeys.KeyIds.Contains(signature.KeyId, StringComparer.Ordinal)
                || !root.Keys.TryGetValue(signature.KeyId, out var key))
            {
                continue;
            }

            if (Verifies(canonical, signature, key))
            {
                valid.Add(signature.KeyId);
            }
        }

        return valid;
    }

    /// <summary>
    /// Null when <paramref name="signature"/> (CMS, detached) holds valid signatures of
    /// <paramref name="manifest"/> by as many targets keys of <paramref name="root"/> as its
    /// threshold asks; otherwise how many it holds and how many are required.
    /// </summary>
    public static string? ManifestSignatureProblem(ReadOnlySpan<byte> manifest, ReadOnlySpan<byte> signature, RootMetadata root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var signers = signature.IsEmpty ? 0 : ValidCmsSigners(manifest, signature, root, TufRoles.Targets).Count;
        var threshold = root.Roles.TryGetValue(TufRoles.Targets, out var role) ? role.Threshold : int.MaxValue;
        return signers >= threshold
            ? null
            : $"the manifest signature has {signers} valid signature(s) by targets keys of root version {root.Version}; {threshold} required";
    }

    /// <summary>
    /// The distinct keys of <paramref name="role"/> that signed <paramref name="content"/> in a CMS
    /// detached signature (one SignerInfo per key), e.g. a package manifest signed by targets keys.
    /// </summary>
    public static IReadOnlySet<string> ValidCmsSigners(ReadOnlySpan<byte> content, ReadOnlySpan<byte> cmsSignature, RootMetadata root, string role)
    {
        ArgumentNullException.ThrowIfNull(root);
        var valid = new HashSet<string>(StringComparer.Ordinal);
        if (!root.Roles.TryGetValue(role, out var roleKeys))
        {
            return valid;
        }

        var cms = new SignedCms(new ContentInfo(content.ToArray()), detached: true);
        try
        {
            cms.Decode(cmsSignature);
        }
        catch (CryptographicException)
        {
            return valid;
        }

        foreach (var keyId in roleKeys.KeyIds)
        {
            if (!root.Keys.TryGetValue(keyId, out var key))
            {
                continue;
            }

            using var certificate = TufKeys.CertificateOf(key);
            foreach (var signer in cms.SignerInfos)
            {
                try
                {
                    signer.CheckSignature([certificate], verifySignatureOnly: true);
                    if (signer.Certificate is { } used && string.Equals(TufKeys.KeyIdOf(used), keyId, StringComparison.Ordinal))
                    {
                        valid.Add(keyId);
                        break;
                    }
                }
                catch (CryptographicException)
                {
                    // Another key's SignerInfo, or a forged one: it counts for nothing.
                }
            }
        }

        return valid;
    }

    /// <summary>Throws <see cref="TufVerificationException"/> with <paramref name="check"/> unless the role's threshold is met.</summary>
    public static void RequireThreshold(SignedEnvelope envelope, RootMetadata root, string role, string check)
    {
        ArgumentNullException.ThrowIfNull(root);
        var threshold = root.Roles.TryGetValue(role, out var keys) ? keys.Threshold : int.MaxValue;
        var valid = ValidRoleSigners(envelope, root, role).Count;
        if (threshold < 1 || valid < threshold)
        {
            throw new TufVerificationException(
                check,
                $"{role} metadata has {valid} valid signature(s) from distinct {role} keys of root version {root.Version}; {Math.Max(threshold, 1)} required");
        }
    }

    private static bool Verifies(byte[] canonical, EnvelopeSignature signature, TufKey key)
    {
        try
        {
            using var certificate = TufKeys.CertificateOf(key);
            var cms = new SignedCms(new ContentInfo(canonical), detached: true);
            cms.Decode(Convert.FromBase64String(signature.Sig));
            if (cms.SignerInfos.Count != 1)
            {
                return false;
            }

            var signer = cms.SignerInfos[0];
            signer.CheckSignature([certificate], verifySignatureOnly: true);

            // The signature must have been checked with the listed key, not a certificate the
            // signature carried along.
            return signer.Certificate is { } used && string.Equals(TufKeys.KeyIdOf(used), signature.KeyId, StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException or ArgumentException or TufFormatException)
        {
            return false;
        }
    }
}

/// <summary>Metadata or a package failed a trust check; <see cref="Check"/> names which.</summary>
public sealed class TufVerificationException : Exception
{
    public TufVerificationException()
    {
        Check = string.Empty;
    }

    public TufVerificationException(string message)
        : base(message)
    {
        Check = string.Empty;
    }

    public TufVerificationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Check = string.Empty;
    }

    public TufVerificationException(string check, string reason)
        : base($"{check} check failed: {reason}")
    {
        Check = check;
        Reason = reason;
    }

    public string Check { get; }

    public string? Reason { get; }
}
