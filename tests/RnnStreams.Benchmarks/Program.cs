using BenchmarkDotNet.Running;

namespace RnnStreams.Benchmarks;

/// <summary>Entry point: pick benchmarks with BenchmarkDotNet's command line (<c>--filter '*Kernel*'</c>).</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
