using System.Buffers;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.AI;

namespace AgentSpace.Knowledge;

/// <summary>
/// The built-in embedder: offline and deterministic. Feature hashing of normalised words (NFKC, lower case, letters
/// and digits), word bigrams and character 3- to 5-grams of each word (with boundary marks) into
/// <see cref="Dimensions"/> signed buckets (XxHash3, the same in every process), sublinear term frequency, and L2
/// normalisation. Texts sharing words, word pairs and word pieces land close together; it knows no synonyms.
/// </summary>
public sealed class LocalEmbedder : IEmbeddingGenerator<string, Embedding<float>>
{
    public const string Id = "local-hash-384-v1";
    public const int Dimensions = 384;

    private const float WordWeight = 1.0f;
    private const float BigramWeight = 0.7f;
    private const float GramWeight = 0.25f;

    private static readonly EmbeddingGeneratorMetadata Metadata = new("local-hash", null, Id, Dimensions);

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var result = new GeneratedEmbeddings<Embedding<float>>();
        foreach (var value in values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            result.Add(new Embedding<float>(Embed(value)) { ModelId = Id });
        }
        return Task.FromResult(result);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
    }

    /// <summary>The vector of one text (all zeros for a text without words).</summary>
    public static float[] Embed(string? text)
    {
        var counts = new Dictionary<(ulong Hash, float Weight), int>();
        var vector = new float[Dimensions];
        var words = Words(text ?? "");
        // Features are hashed straight from a buffer ("w:word", "g:<wo", "b:one two"): no string per feature.
        Span<char> buffer = stackalloc char[256];
        string? previous = null;
        foreach (var word in words)
        {
            if (!StopWords.Contains(word))
            {
                Add(Compose(buffer, "w:", word, ""), WordWeight);
                // The word with boundary marks, "<word>", cut into 3- to 5-character pieces.
                var markedLength = word.Length + 2;
                for (var n = 3; n <= 5; n++)
                {
                    for (var i = 0; i + n <= markedLength; i++)
                    {
                        var gram = buffer[..(2 + n)];
                        gram[0] = 'g';
                        gram[1] = ':';
                        for (var j = 0; j < n; j++)
                        {
                            var at = i + j;
                            gram[2 + j] = at == 0 ? '<' : at == markedLength - 1 ? '>' : word[at - 1];
                        }
                        Add(gram, GramWeight);
                    }
                }
            }
            if (previous is not null && !(StopWords.Contains(previous) && StopWords.Contains(word)))
            {
                Add(Compose(buffer, "b:", previous, " " + word), BigramWeight);
            }
            previous = word;
        }
        foreach (var ((hash, weight), count) in counts)
        {
            // The low bits choose the bucket, the top bit the sign: collisions cancel out on average instead of piling up.
            vector[(int)(hash % Dimensions)] += ((hash >> 63) == 0 ? 1 : -1) * weight * (1 + MathF.Log(count));
        }
        var norm = MathF.Sqrt(vector.Sum(v => v * v));
        if (norm > 0)
        {
            for (var i = 0; i < vector.Length; i++)
            {
                vector[i] /= norm;
            }
        }
        return vector;

        void Add(ReadOnlySpan<char> feature, float weight)
        {
            var key = (Hash(feature), weight);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
    }

    /// <summary>prefix + a + b in <paramref name="buffer"/> when it fits, else in a new string.</summary>
    private static ReadOnlySpan<char> Compose(Span<char> buffer, string prefix, string a, string b)
    {
        var length = prefix.Length + a.Length + b.Length;
        if (length > buffer.Length)
        {
            return string.Concat(prefix, a, b);
        }
        prefix.CopyTo(buffer);
        a.CopyTo(buffer[prefix.Length..]);
        b.CopyTo(buffer[(prefix.Length + a.Length)..]);
        return buffer[..length];
    }

    private static ulong Hash(ReadOnlySpan<char> feature)
    {
        var max = Encoding.UTF8.GetMaxByteCount(feature.Length);
        var rented = max <= 1024 ? null : ArrayPool<byte>.Shared.Rent(max);
        Span<byte> bytes = rented ?? stackalloc byte[1024];
        try
        {
            var length = Encoding.UTF8.GetBytes(feature, bytes);
            return XxHash3.HashToUInt64(bytes[..length]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Lower-cased NFKC words of letters and digits.</summary>
    internal static List<string> Words(string text)
    {
        var normalized = text.Normalize(NormalizationForm.FormKC).ToLowerInvariant();
        var words = new List<string>();
        var start = -1;
        for (var i = 0; i <= normalized.Length; i++)
        {
            var inWord = i < normalized.Length && (char.IsLetterOrDigit(normalized[i]) || (start >= 0 && CharUnicodeInfo.GetUnicodeCategory(normalized[i]) == UnicodeCategory.NonSpacingMark));
            if (inWord && start < 0)
            {
                start = i;
            }
            else if (!inWord && start >= 0)
            {
                words.Add(normalized[start..i]);
                start = -1;
            }
        }
        return words;
    }

    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "is", "are", "was",
        "were", "be", "been", "being", "it", "its", "this", "that", "these", "those", "there", "here", "i", "you", "he", "she", "we",
        "they", "me", "him", "her", "us", "them", "my", "your", "our", "their", "what", "which", "who", "whom", "how", "when", "where",
        "why", "do", "does", "did", "can", "could", "should", "would", "will", "shall", "may", "might", "must", "not", "no", "so",
        "than", "then", "too", "very", "about", "into", "over", "under", "up", "down", "out", "all", "any", "some", "such", "each",
        "has", "have", "had", "also", "just", "only",
    };
}
