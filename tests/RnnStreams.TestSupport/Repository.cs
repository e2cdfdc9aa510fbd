using System.Net;
using System.Net.Sockets;

namespace RnnStreams.TestSupport;

/// <summary>Where things are in the repository, from a test's output folder.</summary>
public static class Repository
{
    /// <summary>The folder holding RnnStreams.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Debug or Release: the configuration the tests were built with (the built silo and client share it).</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

    /// <summary>The built silo host.</summary>
    public static string SiloDll => Built("silo/RnnStreams.Silo", "RnnStreams.Silo.dll");

    /// <summary>The built client.</summary>
    public static string ClientDll => Built("client/RnnStreams.Client", "RnnStreams.Client.dll");

    /// <summary>
    /// A TCP port free on loopback right now that no earlier call returned, below the kernel's ephemeral range: a port the
    /// kernel hands out (port 0) can be taken by another process's outgoing connection before the silo or broker started
    /// on it binds it ("address already in use"); one below that range cannot.
    /// </summary>
    public static int FreePort()
    {
        lock (s_returned)
        {
            while (true)
            {
                var port = Random.Shared.Next(20000, s_ephemeralLow);
                if (s_returned.Contains(port))
                {
                    continue;
                }

                try
                {
                    using var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                }
                catch (SocketException)
                {
                    continue;
                }

                s_returned.Add(port);
                return port;
            }
        }
    }

    private static readonly HashSet<int> s_returned = [];

    /// <summary>The first port of the kernel's ephemeral range (ip_local_port_range; 32768 when it cannot be read).</summary>
    private static readonly int s_ephemeralLow = ReadEphemeralLow();

    private static int ReadEphemeralLow()
    {
        try
        {
            var first = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0];
            return int.TryParse(first, out var low) && low > 21000 ? low : 32768;
        }
        catch (IOException)
        {
            return 32768;
        }
    }

    private static string Built(string project, string dll)
    {
        var path = Path.Combine(Root, project, "bin", Configuration, "net10.0", dll);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is not built; build the solution first", path);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RnnStreams.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("RnnStreams.sln not found above " + AppContext.BaseDirectory);
    }
}
