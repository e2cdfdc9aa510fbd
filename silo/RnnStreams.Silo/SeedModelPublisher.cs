using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RnnStreams.Core;

namespace RnnStreams.Silo;

/// <summary>
/// Publishes the model files listed in <c>RnnStreams:SeedModels</c> once the silo runs, each only if its model has no
/// version yet (atomically, in the model grain), so restarts and silos starting together never add versions. Relative paths are read from the silo's folder.
/// </summary>
internal sealed partial class SeedModelPublisher(IGrainFactory grains, IConfiguration configuration, ILogger<SeedModelPublisher> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var files = configuration.GetSection("RnnStreams:SeedModels").Get<string[]>() ?? [];
        foreach (var file in files)
        {
            var path = Path.IsPathRooted(file) ? file : Path.Combine(AppContext.BaseDirectory, file);
            var model = ModelFile.Load(path); // a broken seed file stops the silo with the field at fault
            var grain = grains.GetGrain<IModelGrain>(model.Name);
            var info = await grain.PublishIfNone(ModelFile.ToJson(model));
            LogReady(logger, info.Model, info.Version, path);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Seed model {Model} ready at version {Version} (seed file {Path}; published only when the model had no version)")]
    private static partial void LogReady(ILogger logger, string model, int version, string path);
}
