using System.Buffers.Binary;

namespace EdgePlatform.Contracts;

/// <summary>
/// Checks the framing and the flatbuffer metadata of an Arrow IPC stream before the Arrow reader
/// sees it. The reader sizes some allocations from vector lengths in the metadata without checking
/// them against the bytes that are there (a record batch's field-node count becomes a list's
/// capacity), so one flipped byte can make it ask for gigabytes; and it follows nested fields by
/// recursion. Every vector the reader sizes from must fit inside its message, and fields nest at
/// most <see cref="MaxFieldDepth"/> deep.
/// </summary>
internal static class ArrowIpcGuard
{
    private const int MaxFieldDepth = 8;

    // Message header union tags and the union type tag, from Arrow's Message.fbs and Schema.fbs.
    private const byte SchemaHeader = 1;
    private const byte DictionaryBatchHeader = 2;
    private const byte RecordBatchHeader = 3;
    private const byte UnionType = 14;

    public static void Check(ReadOnlyMemory<byte> stream)
    {
        var payload = stream.Span;
        var position = 0;
        while (position < payload.Length)
        {
            var length = ReadFrameInt(payload, ref position);
            if (length == -1)
            {
                length = ReadFrameInt(payload, ref position);
            }

            if (length == 0)
            {
                return;
            }

            if (length < 0 || length > payload.Length - position)
            {
                throw new TelemetryFormatException($"a message's metadata length {length} runs past the end of the stream");
            }

            var bodyLength = CheckMessage(stream.Slice(position, length));
            position += length;
            if (bodyLength < 0 || bodyLength > payload.Length - position)
            {
                throw new TelemetryFormatException($"a message's body length {bodyLength} runs past the end of the stream");
            }

            position += (int)bodyLength;
        }
    }

    private static int ReadFrameInt(ReadOnlySpan<byte> payload, ref int position)
    {
        if (payload.Length - position < 4)
        {
            throw new TelemetryFormatException("the stream ends inside a message header");
        }

        var value = BinaryPrimitives.ReadInt32LittleEndian(payload[position..]);
        position += 4;
        return value;
    }

    private static long CheckMessage(ReadOnlyMemory<byte> metadata)
    {
        var message = new Table(metadata, Reference(metadata.Span, 0));
        var headerType = message.Byte(1);
        var header = message.TableField(2);
        CheckTableVector(message, 4);
        switch (headerType)
        {
            case SchemaHeader when header is { } schema:
                foreach (var field in CheckTableVector(schema, 1))
                {
                    CheckField(field, depth: 1);
                }

                CheckTableVector(schema, 2);
                CheckVector(schema, 3, 8);
                break;
            case DictionaryBatchHeader when header?.TableField(1) is { } data:
                CheckRecordBatch(data);
                break;
            case RecordBatchHeader when header is { } batch:
                CheckRecordBatch(batch);
                break;
        }

        return message.Long(3);
    }

    private static void CheckRecordBatch(Table batch)
    {
        CheckVector(batch, 1, 16);
        CheckVector(batch, 2, 16);
        CheckVector(batch, 4, 8);
    }

    private static void CheckField(Table field, int depth)
    {
        if (depth > MaxFieldDepth)
        {
            throw new TelemetryFormatException($"the schema nests fields more than {MaxFieldDepth} deep");
        }

        foreach (var child in CheckTableVector(field, 5))
        {
            CheckField(child, depth + 1);
        }

        CheckTableVector(field, 6);
        if (field.Byte(2) == UnionType && field.TableField(3) is { } union)
        {
            CheckVector(union, 1, 4);
        }
    }

    /// <summary>Checks a vector of tables and each table it refers to; returns the tables.</summary>
    private static List<Table> CheckTableVector(Table table, int field)
    {
        var tables = new List<Table>();
        if (CheckVector(table, field, 4) is not var (start, count))
        {
            return tables;
        }

        for (var i = 0; i < count; i++)
        {
            tables.Add(new Table(table.Buffer, Reference(table.Buffer.Span, start + (4 * i))));
        }

        return tables;
    }

    /// <summary>Checks that a vector field's elements lie inside the buffer; returns where they start and how many, or null when absent.</summary>
    private static (int Start, int Count)? CheckVector(Table table, int field, int elementSize)
    {
        if (table.FieldPosition(field, 4) is not { } position)
        {
            return null;
        }

        var buffer = table.Buffer.Span;
        var vector = Reference(buffer, position);
        var count = BinaryPrimitives.ReadUInt32LittleEndian(buffer[vector..]);
        if (count > (uint)((table.Buffer.Length - vector - 4) / elementSize))
        {
            throw new TelemetryFormatException($"a metadata vector claims {count} elements, more than its message holds");
        }

        return (vector + 4, (int)count);
    }

    /// <summary>Follows the unsigned offset stored at <paramref name="position"/>; the target must lie inside the buffer.</summary>
    private static int Reference(ReadOnlySpan<byte> buffer, int position)
    {
        if (position < 0 || position > buffer.Length - 4)
        {
            throw Damaged();
        }

        var target = position + (long)BinaryPrimitives.ReadUInt32LittleEndian(buffer[position..]);
        return target <= buffer.Length - 4 ? (int)target : throw Damaged();
    }

    private static TelemetryFormatException Damaged() => new("the stream's metadata points outside its message");

    /// <summary>A flatbuffer table: its position and its vtable, both checked to lie inside the buffer.</summary>
    private readonly struct Table
    {
        private readonly int _position;
        private readonly int _vtable;
        private readonly int _vtableSize;
        private readonly int _tableSize;

        public Table(ReadOnlyMemory<byte> memory, int position)
        {
            Buffer = memory;
            var buffer = memory.Span;
            _position = position;
            var vtable = position - (long)BinaryPrimitives.ReadInt32LittleEndian(buffer[position..]);
            if (vtable < 0 || vtable > buffer.Length - 4)
            {
                throw Damaged();
            }

            _vtable = (int)vtable;
            _vtableSize = BinaryPrimitives.ReadUInt16LittleEndian(buffer[_vtable..]);
            _tableSize = BinaryPrimitives.ReadUInt16LittleEndian(buffer[(_vtable + 2)..]);
            if (_vtableSize < 4 || _vtable + _vtableSize > buffer.Length || _position + _tableSize > buffer.Length)
            {
                throw Damaged();
            }
        }

        public ReadOnlyMemory<byte> Buffer { get; }

        /// <summary>Where a field of <paramref name="size"/> bytes lies, or null when the table does not have it.</summary>
        public int? FieldPosition(int field, int size)
        {
            var slot = 4 + (2 * field);
            if (slot + 2 > _vtableSize)
            {
                return null;
            }

            var offset = BinaryPrimitives.ReadUInt16LittleEndian(Buffer.Span[(_vtable + slot)..]);
            if (offset == 0)
            {
                return null;
            }

            return offset + size <= _tableSize ? _position + offset : throw Damaged();
        }

        public byte Byte(int field) => FieldPosition(field, 1) is { } at ? Buffer.Span[at] : (byte)0;

        public long Long(int field) => FieldPosition(field, 8) is { } at ? BinaryPrimitives.ReadInt64LittleEndian(Buffer.Span[at..]) : 0;

        public Table? TableField(int field) => FieldPosition(field, 4) is { } at ? new Table(Buffer, Reference(Buffer.Span, at)) : null;
    }
}
