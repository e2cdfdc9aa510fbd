namespace RnnStreams.TestSupport;

/// <summary>A temporary folder for a test class's files (models, CSVs), deleted with it.</summary>
public sealed class ScratchFolder(string prefix) : IDisposable
{
    /// <summary>The folder's full path.</summary>
    public string Root { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    /// <summary>The path of <paramref name="name"/> in the folder (not created).</summary>
    public string PathOf(string name) => Path.Combine(Root, name);

    /// <summary>Writes <paramref name="text"/> to <paramref name="name"/> in the folder and returns its path.</summary>
    public string Write(string name, string text)
    {
        var path = PathOf(name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>Keys that no other test (or earlier run against the same storage) uses.</summary>
public static class TestKeys
{
    /// <summary><paramref name="prefix"/>-{a new GUID}.</summary>
    public static string New(string prefix) => $"{prefix}-{Guid.NewGuid():N}";
}
