using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using RnnStreams;
using RnnStreams.Client;
using RnnStreams.Client.Commands;
using RnnStreams.Core.Formats;

return await Cli.RunAsync(args, Console.Out, Console.Error);

namespace RnnStreams.Client
{
    /// <summary>
    /// The command line (System.CommandLine): one command per file, each option described with its default; <c>-h</c> on
    /// any command, <c>--version</c>, the <c>[suggest]</c> directive for shell completion. Errors are one line on standard
    /// error: exit 2 for a usage error, 1 for a failure, 130 after Ctrl+C, 143 after SIGTERM.
    /// </summary>
    internal static class Cli
    {
        /// <summary>The command tree, printing to <paramref name="stdout"/> and <paramref name="stderr"/>.</summary>
        public static RootCommand Build(TextWriter stdout, TextWriter stderr)
        {
            var root = new RootCommand("RnnStreams client: runs RNN models offline, and streams elements to the sequences of a running cluster "
                + "(through its Orleans gateway, its HTTP API or an MQTT broker) and prints their outputs.")
            {
                // The same name in help however the client runs (dotnet RnnStreams.Client.dll, the apphost, a test host).
                HelpName = "RnnStreams.Client",
            };
            foreach (var command in new[]
            {
                PredictCommand.Create(stdout),
                TrainCommand.Create(stdout, stderr),
                ModelsCommand.Create(stdout),
                StreamCommand.Create(stdout, stderr),
                WatchCommand.Create(stdout, stderr),
                SequenceCommand.Create(stdout),
                LoadCommand.Create(stdout, stderr),
                BenchCommand.Create(stdout),
                DemoCommand.Create(stdout, stderr),
            })
            {
                root.Add(command);
            }

            // --version names this client's version, not the process's entry assembly (a test host's).
            root.Options.OfType<VersionOption>().Single().Action = new VersionAction();
            return root;
        }

        public static async Task<int> RunAsync(string[] argv, TextWriter stdout, TextWriter stderr)
        {
            using var cancellation = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                cancellation.Cancel();
            };
            Console.CancelKeyPress += onCancel;

            // SIGTERM (`timeout`, an orchestrator, kill) stops a long-running command as Ctrl+C does: it cancels, cleans up
            // (subscriptions, connections) and exits with 143 instead of being ignored until the runtime's default kills it.
            var terminated = false;
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                terminated = true;
                cancellation.Cancel();
            });
            try
            {
                var root = Build(stdout, stderr);
                if (argv.Length == 0)
                {
                    // No command is a usage error: say what the commands are, on standard error.
                    await root.Parse(["--help"]).InvokeAsync(new InvocationConfiguration { Output = stderr }, cancellation.Token);
                    return 2;
                }

                var parsed = root.Parse(argv);
                if (parsed.Action is ParseErrorAction)
                {
                    foreach (var error in parsed.Errors)
                    {
                        stderr.WriteLine($"error: {error.Message}");
                    }

                    stderr.WriteLine($"see: {string.Join(' ', CommandPath(parsed.CommandResult.Command))} --help");
                    return 2;
                }

                // Signals are handled above (130 and 143, with our own words), exceptions below (one line, no stack trace).
                var invocation = new InvocationConfiguration
                {
                    Output = stdout,
                    Error = stderr,
                    EnableDefaultExceptionHandler = false,
                    ProcessTerminationTimeout = null,
                };
                return await parsed.InvokeAsync(invocation, cancellation.Token);
            }
            catch (CliException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return e.ExitCode;
            }
            catch (DataFileException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 1;
            }
            catch (RnnStreamsException e)
            {
                stderr.WriteLine($"error: {e.Kind}: {e.Message}");
                return 1;
            }
            catch (RefusedException e)
            {
                stderr.WriteLine($"error: {e.Kind}: {e.Detail}");
                return 1;
            }
            catch (Exception e) when (e is HttpRequestException or TimeoutException or OperationCanceledException && !cancellation.IsCancellationRequested)
            {
                // The HTTP API or the broker did not answer (a refused connection, a call that took too long).
                stderr.WriteLine($"error: {e.Message}");
                return 1;
            }
            catch (OperationCanceledException)
            {
                stderr.WriteLine(terminated ? "error: terminated" : "error: cancelled");
                return terminated ? 143 : 130;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        }

        /// <summary>Prints the client's informational version (the build's version and commit).</summary>
        private sealed class VersionAction : SynchronousCommandLineAction
        {
            public override int Invoke(ParseResult parseResult)
            {
                parseResult.InvocationConfiguration.Output.WriteLine(
                    typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);
                return 0;
            }
        }

        private static IEnumerable<string> CommandPath(Command command)
        {
            var names = new Stack<string>();
            for (Symbol? symbol = command; symbol is Command c and not RootCommand; symbol = symbol.Parents.FirstOrDefault())
            {
                names.Push(c.Name);
            }

            return ["RnnStreams.Client", .. names];
        }
    }
}
