using System.Text;

namespace RnnStreams.Silo.Tests;

/// <summary>One span of an OTLP <c>ExportTraceServiceRequest</c>, with its resource's service name and its scope.</summary>
internal sealed record OtlpSpan(
    string Service, string Scope, string Name, string TraceId, string SpanId, string ParentSpanId, IReadOnlyDictionary<string, object> Attributes);

/// <summary>
/// Reads the spans out of an OTLP/HTTP protobuf trace export, with just enough of the protobuf wire format for it
/// (field numbers from opentelemetry-proto's trace.proto, resource.proto and common.proto).
/// </summary>
internal static class OtlpSpans
{
    public static IEnumerable<OtlpSpan> Read(byte[] exportTraceServiceRequest)
    {
        foreach (var resourceSpans in Messages(exportTraceServiceRequest, 1))
        {
            var service = "";
            foreach (var resource in Messages(resourceSpans, 1))
            {
                service = Attributes(resource, 1).TryGetValue("service.name", out var name) ? (string)name : "";
            }

            foreach (var scopeSpans in Messages(resourceSpans, 2))
            {
                var scope = Messages(scopeSpans, 1).Select(s => Text(s, 1)).FirstOrDefault() ?? "";
                foreach (var span in Messages(scopeSpans, 2))
                {
                    yield return new OtlpSpan(service, scope, Text(span, 5), Hex(span, 1), Hex(span, 2), Hex(span, 4), Attributes(span, 9));
                }
            }
        }
    }

    /// <summary>A KeyValue list: string, bool, int and double values.</summary>
    private static Dictionary<string, object> Attributes(ReadOnlyMemory<byte> message, int field)
    {
        var attributes = new Dictionary<string, object>();
        foreach (var keyValue in Messages(message, field))
        {
            foreach (var any in Messages(keyValue, 2))
            {
                foreach (var (number, _, varint, bytes) in Fields(any))
                {
                    attributes[Text(keyValue, 1)] = number switch
                    {
                        1 => Encoding.UTF8.GetString(bytes.Span),
                        2 => varint != 0,
                        3 => (long)varint,
                        4 => BitConverter.Int64BitsToDouble((long)varint),
                        _ => "(other)",
                    };
                }
            }
        }

        return attributes;
    }

    private static IEnumerable<ReadOnlyMemory<byte>> Messages(ReadOnlyMemory<byte> message, int field) =>
        Fields(message).Where(f => f.Number == field && f.WireType == 2).Select(f => f.Bytes);

    private static string Text(ReadOnlyMemory<byte> message, int field) =>
        Messages(message, field).Select(b => Encoding.UTF8.GetString(b.Span)).FirstOrDefault() ?? "";

    private static string Hex(ReadOnlyMemory<byte> message, int field) =>
        Messages(message, field).Select(b => Convert.ToHexStringLower(b.Span)).FirstOrDefault() ?? "";

    /// <summary>Each field of a message: its number, wire type, the value of a varint or fixed field, the bytes of a length-delimited one.</summary>
    private static List<(int Number, int WireType, ulong Varint, ReadOnlyMemory<byte> Bytes)> Fields(ReadOnlyMemory<byte> message)
    {
        var fields = new List<(int, int, ulong, ReadOnlyMemory<byte>)>();
        var span = message.Span;
        var at = 0;
        while (at < span.Length)
        {
            var key = Varint(span, ref at);
            var wireType = (int)(key & 7);
            var number = (int)(key >> 3);
            switch (wireType)
            {
                case 0:
                    fields.Add((number, wireType, Varint(span, ref at), default));
                    break;
                case 1:
                    fields.Add((number, wireType, BitConverter.ToUInt64(span.Slice(at, 8)), default));
                    at += 8;
                    break;
                case 2:
                    var length = (int)Varint(span, ref at);
                    fields.Add((number, wireType, 0, message.Slice(at, length)));
                    at += length;
                    break;
                case 5:
                    fields.Add((number, wireType, BitConverter.ToUInt32(span.Slice(at, 4)), default));
                    at += 4;
                    break;
                default:
                    throw new FormatException($"wire type {wireType} of field {number} at byte {at}");
            }
        }

        return fields;
    }

    private static ulong Varint(ReadOnlySpan<byte> span, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = span[at++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }
}
