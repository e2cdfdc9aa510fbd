namespace RnnStreams.Core.Formats;

/// <summary>A data file (inputs or initial state) that cannot be read, with the line at fault.</summary>
public sealed class DataFileException : Exception
{
    public DataFileException(string path, int line, string message)
        : base(line > 0 ? $"{path}:{line}: {message}" : $"{path}: {message}")
    {
        Path = path;
        Line = line;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The 1-based line, or 0 for the whole file.</summary>
    public int Line { get; }
}
