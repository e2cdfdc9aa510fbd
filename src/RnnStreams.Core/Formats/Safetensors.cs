using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace RnnStreams.Core.Formats;

/// <summary>One tensor of a safetensors file, its values converted to double (F32 widened exactly, F64 as is).</summary>
public sealed class SafetensorsTensor
{
    internal SafetensorsTensor(string name, string dtype, int[] shape, double[] values)
    {
        Name = name;
        DType = dtype;
        Shape = Array.AsReadOnly(shape);
        Values = values;
    }

    /// <summary>The tensor's name, the key in the file's header (e.g. <c>rnn.weight_ih_l0</c>).</summary>
    public string Name { get; }

    /// <summary>The dtype as written in the file: <c>F32</c> or <c>F64</c>.</summary>
    public string DType { get; }

    /// <summary>The dimensions, outermost first; empty for a scalar.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The values in row-major order: the product of <see cref="Shape"/> numbers, all finite.</summary>
    public double[] Values { get; }
}

/// <summary>
/// A strict reader of the safetensors format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (an
/// object mapping tensor names to <c>{"dtype", "shape", "data_offsets"}</c>, plus an optional
/// <c>"__metadata__"</c> object of strings; trailing spaces allowed as padding), then the data section, which the
/// tensors must cover exactly, without gaps or overlaps. Only F32 and F64 tensors are read; every value must be
/// finite. Every length in the file is checked against the real size before anything is allocated for it.
/// </summary>
public static class Safetensors
{
    /// <summary>Files larger than this are refused before anything is read.</summary>
    public const long MaxFileBytes = 2L * 1024 * 1024 * 1024;

    /// <summary>The largest header the format allows.</summary>
    public const int MaxHeaderBytes = 100 * 1024 * 1024;

    private const string MetadataKey = "__metadata__";
    private const int ChunkBytes = 1 << 20;
    private const int MaxNameInMessage = 100;

    /// <summary>Reads every tensor of a file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The tensors by name.</returns>
    /// <exception cref="DataFileException">The file cannot be read, is not a well-formed safetensors file, holds a dtype other than F32/F64, or a value that is not finite.</exception>
    public static IReadOnlyDictionary<string, SafetensorsTensor> Read(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            var fileLength = stream.Length;
            if (fileLength > MaxFileBytes)
            {
                throw new DataFileException(path, 0, $"file is {fileLength} bytes, over the {MaxFileBytes}-byte limit");
            }

            Span<byte> prefix = stackalloc byte[8];
            if (fileLength < 8)
            {
                throw TooShort(path, fileLength);
            }

            stream.ReadExactly(prefix);
            var headerLength = CheckHeaderLength(prefix, fileLength, path);
            var header = new byte[headerLength];
            stream.ReadExactly(header);
            var dataLength = fileLength - 8 - headerLength;
            var entries = ParseHeader(header, dataLength, path);

            // The tensors cover the data section exactly, so reading them by offset reads it front to back.
            var buffer = new byte[(int)Math.Min(ChunkBytes, dataLength)];
            var values = new Dictionary<string, double[]>(entries.Count, StringComparer.Ordinal);
            foreach (var entry in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
            {
                var result = new double[entry.Count];
                var remaining = entry.End - entry.Begin;
                var index = 0;
                while (remaining > 0)
                {
                    var take = (int)Math.Min(remaining, buffer.Length);
                    stream.ReadExactly(buffer, 0, take);
                    Decode(buffer.AsSpan(0, take), entry, result, index, path);
                    index += take / entry.ElementSize;
                    remaining -= take;
                }

                values.Add(entry.Name, result);
            }

            return entries.ToDictionary(e => e.Name, e => new SafetensorsTensor(e.Name, e.DType, e.Shape, values[e.Name]), StringComparer.Ordinal);
        }
        catch (EndOfStreamException)
        {
            throw new DataFileException(path, 0, "file ended early (did it change while being read?)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new DataFileException(path, 0, $"cannot read: {e.Message}");
        }
    }

    /// <summary>Parses a whole safetensors file held in memory (see <see cref="Read"/>).</summary>
    /// <param name="bytes">The file's bytes.</param>
    /// <param name="source">Names the bytes in messages (usually the path).</param>
    /// <returns>The tensors by name.</returns>
    /// <exception cref="DataFileException">The bytes are not a well-formed safetensors file, hold a dtype other than F32/F64, or a value that is not finite.</exception>
    public static IReadOnlyDictionary<string, SafetensorsTensor> Parse(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 8)
        {
            throw TooShort(source, bytes.Length);
        }

        var headerLength = CheckHeaderLength(bytes[..8], bytes.Length, source);
        var data = bytes[(8 + headerLength)..];
        var entries = ParseHeader(bytes.Slice(8, headerLength), data.Length, source);
        var tensors = new Dictionary<string, SafetensorsTensor>(entries.Count, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            var values = new double[entry.Count];
            Decode(data[(int)entry.Begin..(int)entry.End], entry, values, 0, source);
            tensors.Add(entry.Name, new SafetensorsTensor(entry.Name, entry.DType, entry.Shape, values));
        }

        return tensors;
    }

    private static DataFileException TooShort(string source, long length) =>
        new(source, 0, $"file is {length} bytes, shorter than the 8-byte header length");

    /// <summary>
    /// Checks the header length N (the file's first 8 bytes) against the format's limit and the file's size; returns it
    /// as an int. A length no safetensors file can have means the file is something else: the message says what it
    /// looks like.
    /// </summary>
    private static int CheckHeaderLength(ReadOnlySpan<byte> prefix, long fileLength, string source)
    {
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength == 0)
        {
            throw new DataFileException(source, 0, "header length is 0");
        }

        if (headerLength > MaxHeaderBytes || headerLength > (ulong)(fileLength - 8))
        {
            var why = headerLength > MaxHeaderBytes
                ? $"header length {headerLength} is over the {MaxHeaderBytes}-byte limit"
                : $"header length {headerLength} runs past the end of the file ({fileLength} bytes)";
            throw new DataFileException(source, 0, $"not a safetensors file: {LooksLike(prefix)} ({why}; a safetensors file starts with the 8-byte little-endian length of its JSON header)");
        }

        return (int)headerLength;
    }

    /// <summary>What a file that is not safetensors seems to be, from its first bytes.</summary>
    private static string LooksLike(ReadOnlySpan<byte> prefix)
    {
        var text = true;
        foreach (var b in prefix)
        {
            text &= b is >= 0x20 and <= 0x7e or (byte)'\t' or (byte)'\r' or (byte)'\n';
        }

        if (text)
        {
            var start = System.Text.Encoding.ASCII.GetString(prefix).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal);
            var hint = prefix[0] is (byte)'{' or (byte)'[' ? ": a JSON file (a model file? publish it with `models put --file`)" : string.Empty;
            return $"it starts with text ('{start}'…){hint}";
        }

        if (prefix[0] == 0x80 || (prefix[0] == (byte)'P' && prefix[1] == (byte)'K'))
        {
            return "it looks like a PyTorch checkpoint (pickle or zip): save the state_dict with safetensors.torch.save_file";
        }

        return $"it starts with the bytes {Convert.ToHexString(prefix)}";
    }

    /// <summary>A validated header entry: everything but the values.</summary>
    private sealed record Entry(string Name, string DType, int ElementSize, int[] Shape, int Count, long Begin, long End);

    /// <summary>
    /// Parses and validates the whole header: the JSON, every entry, and that the entries cover the data section of
    /// <paramref name="dataLength"/> bytes exactly. Returns the entries in header order.
    /// </summary>
    private static List<Entry> ParseHeader(ReadOnlySpan<byte> header, long dataLength, string source)
    {
        if (!Utf8.IsValid(header))
        {
            throw new DataFileException(source, 0, "header is not valid UTF-8");
        }

        var entries = new List<Entry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        long consumed;
        try
        {
            var reader = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new DataFileException(source, 0, "header is not a JSON object");
            }

            if (header[0] != (byte)'{')
            {
                throw new DataFileException(source, 0, "header must start with '{' (only trailing spaces are allowed as padding)");
            }

            while (Next(ref reader) == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                if (!names.Add(name))
                {
                    throw new DataFileException(source, 0, name == MetadataKey ? "duplicate __metadata__" : $"duplicate tensor name {Quote(name)}");
                }

                if (name == MetadataKey)
                {
                    ReadMetadata(ref reader, source);
                }
                else
                {
                    entries.Add(ReadEntry(ref reader, name, dataLength, source));
                }
            }

            consumed = reader.BytesConsumed;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new DataFileException(source, 0, $"header is not valid JSON: {OneLine(e.Message)}");
        }

        var padding = header[(int)consumed..];
        var stray = padding.IndexOfAnyExcept((byte)' ');
        if (stray >= 0)
        {
            throw new DataFileException(source, 0, $"header has {padding.Length - stray} bytes after the JSON object that are not space padding");
        }

        CheckCoverage(entries, dataLength, source);
        return entries;
    }

    /// <summary>Reads the next token; the JSON is a single complete value, so running out of tokens is malformed.</summary>
    private static JsonTokenType Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
        {
            throw new JsonException("the JSON ends early");
        }

        return reader.TokenType;
    }

    private static void ReadMetadata(ref Utf8JsonReader reader, string source)
    {
        if (Next(ref reader) != JsonTokenType.StartObject)
        {
            throw new DataFileException(source, 0, "__metadata__ is not an object of strings");
        }

        var keys = new HashSet<string>(StringComparer.Ordinal);
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            if (!keys.Add(key))
            {
                throw new DataFileException(source, 0, $"__metadata__ has the key {Quote(key)} twice");
            }

            if (Next(ref reader) != JsonTokenType.String)
            {
                throw new DataFileException(source, 0, $"__metadata__ is not an object of strings: {Quote(key)} is {Describe(reader.TokenType)}");
            }
        }
    }

    private static Entry ReadEntry(ref Utf8JsonReader reader, string name, long dataLength, string source)
    {
        var tensor = $"tensor {Quote(name)}";
        if (Next(ref reader) != JsonTokenType.StartObject)
        {
            throw new DataFileException(source, 0, $"{tensor}: entry is {Describe(reader.TokenType)}, not an object");
        }

        string? dtype = null;
        long[]? shape = null;
        ulong[]? offsets = null;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            var field = reader.GetString()!;
            var seen = field switch
            {
                "dtype" => dtype is not null,
                "shape" => shape is not null,
                "data_offsets" => offsets is not null,
                _ => throw new DataFileException(source, 0, $"{tensor}: unexpected field {Quote(field)} (only dtype, shape and data_offsets are allowed)"),
            };
            if (seen)
            {
                throw new DataFileException(source, 0, $"{tensor}: field '{field}' appears twice");
            }

            switch (field)
            {
                case "dtype":
                    if (Next(ref reader) != JsonTokenType.String)
                    {
                        throw new DataFileException(source, 0, $"{tensor}: dtype is {Describe(reader.TokenType)}, not a string");
                    }

                    dtype = reader.GetString()!;
                    break;
                case "shape":
                    shape = ReadShape(ref reader, tensor, source);
                    break;
                default:
                    offsets = ReadOffsets(ref reader, tensor, source);
                    break;
            }
        }

        if (dtype is null || shape is null || offsets is null)
        {
            var missing = dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets";
            throw new DataFileException(source, 0, $"{tensor}: missing field '{missing}'");
        }

        var elementSize = dtype switch
        {
            "F32" => 4,
            "F64" => 8,
            _ => throw new DataFileException(source, 0, $"{tensor}: dtype {Quote(dtype)} is not supported (only F32 and F64 are read)"),
        };

        var shapeText = $"[{string.Join(", ", shape)}]";
        long count = 1;
        try
        {
            foreach (var dimension in shape)
            {
                count = checked(count * dimension);
            }
        }
        catch (OverflowException)
        {
            count = long.MaxValue;
        }

        if (count > int.MaxValue)
        {
            throw new DataFileException(source, 0, $"{tensor}: shape {shapeText} has more than {int.MaxValue} elements");
        }

        if (shape.Any(d => d > int.MaxValue))
        {
            throw new DataFileException(source, 0, $"{tensor}: shape {shapeText} has a dimension over {int.MaxValue}");
        }

        var (begin, end) = (offsets[0], offsets[1]);
        if (begin > end)
        {
            throw new DataFileException(source, 0, $"{tensor}: data_offsets [{begin}, {end}] are reversed (begin > end)");
        }

        if (end > (ulong)dataLength)
        {
            throw new DataFileException(source, 0, $"{tensor}: data_offsets end {end} is past the end of the data section ({dataLength} bytes)");
        }

        var needed = count * elementSize;
        if (end - begin != (ulong)needed)
        {
            throw new DataFileException(source, 0, $"{tensor}: data_offsets [{begin}, {end}] span {end - begin} bytes but shape {shapeText} of {dtype} needs {needed}");
        }

        return new Entry(name, dtype, elementSize, [.. shape.Select(d => (int)d)], (int)count, (long)begin, (long)end);
    }

    private static long[] ReadShape(ref Utf8JsonReader reader, string tensor, string source)
    {
        if (Next(ref reader) != JsonTokenType.StartArray)
        {
            throw new DataFileException(source, 0, $"{tensor}: shape is {Describe(reader.TokenType)}, not an array of non-negative integers");
        }

        var shape = new List<long>();
        while (Next(ref reader) != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var dimension) || dimension < 0)
            {
                var what = reader.TokenType == JsonTokenType.Number ? Encoding.UTF8.GetString(reader.ValueSpan) : Describe(reader.TokenType);
                throw new DataFileException(source, 0, $"{tensor}: shape dimension {shape.Count} is {Shorten(what)}, not a non-negative integer");
            }

            shape.Add(dimension);
        }

        return [.. shape];
    }

    private static ulong[] ReadOffsets(ref Utf8JsonReader reader, string tensor, string source)
    {
        var offsets = new List<ulong>(2);
        var ok = Next(ref reader) == JsonTokenType.StartArray;
        while (ok && Next(ref reader) != JsonTokenType.EndArray)
        {
            ulong offset = 0;
            ok = reader.TokenType == JsonTokenType.Number && offsets.Count < 2 && reader.TryGetUInt64(out offset);
            if (ok)
            {
                offsets.Add(offset);
            }
        }

        if (!ok || offsets.Count != 2)
        {
            throw new DataFileException(source, 0, $"{tensor}: data_offsets is not an array of two non-negative integers");
        }

        return [.. offsets];
    }

    /// <summary>Checks that the tensors, sorted by offset, cover the data section exactly, without overlap or gaps.</summary>
    private static void CheckCoverage(List<Entry> entries, long dataLength, string source)
    {
        if (entries.Count == 0)
        {
            if (dataLength != 0)
            {
                throw new DataFileException(source, 0, $"data section has {dataLength} bytes but there are no tensors");
            }

            return;
        }

        var sorted = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        long position = 0;
        Entry? previous = null;
        foreach (var entry in sorted)
        {
            if (entry.Begin < position)
            {
                throw new DataFileException(source, 0, $"tensor {Quote(entry.Name)}: data_offsets [{entry.Begin}, {entry.End}] overlap tensor {Quote(previous!.Name)} (which ends at byte {position})");
            }

            if (entry.Begin > position)
            {
                var after = previous is null ? "at the start of the data section" : $"after tensor {Quote(previous.Name)}";
                throw new DataFileException(source, 0, $"gap: data bytes [{position}, {entry.Begin}) {after} belong to no tensor (the next is {Quote(entry.Name)})");
            }

            position = entry.End;
            previous = entry;
        }

        if (position != dataLength)
        {
            throw new DataFileException(source, 0, $"gap: data bytes [{position}, {dataLength}) after the last tensor {Quote(previous!.Name)} belong to no tensor");
        }
    }

    /// <summary>Converts little-endian values to double into <paramref name="values"/> from <paramref name="index"/>, refusing non-finite ones.</summary>
    private static void Decode(ReadOnlySpan<byte> bytes, Entry entry, double[] values, int index, string source)
    {
        var n = bytes.Length / entry.ElementSize;
        for (var i = 0; i < n; i++)
        {
            var value = entry.ElementSize == 4
                ? BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..])
                : BinaryPrimitives.ReadDoubleLittleEndian(bytes[(8 * i)..]);
            if (!double.IsFinite(value))
            {
                var what = double.IsNaN(value) ? "NaN" : value > 0 ? "+Infinity" : "-Infinity";
                throw new DataFileException(source, 0, $"tensor {Quote(entry.Name)}: value at flat index {index + i} is {what} (weights must be finite)");
            }

            values[index + i] = value;
        }
    }

    /// <summary>What a JSON value is, with its article: "an array", "a number", ...</summary>
    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    /// <summary>A name for a message: quoted, on one line, and not too long.</summary>
    private static string Quote(string name) => $"'{Shorten(name)}'";

    private static string Shorten(string text, int max = MaxNameInMessage)
    {
        var builder = new StringBuilder();
        foreach (var c in text.Length > max ? text[..max] : text)
        {
            if (char.IsControl(c))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return text.Length > max ? builder.Append("...").ToString() : builder.ToString();
    }

    private static string OneLine(string text) => Shorten(text.ReplaceLineEndings(" "), 300);
}
