using RnnStreams.Core;
using RnnStreams.Core.Formats;

namespace RnnStreams.Client.Commands;

/// <summary><c>models put|get|list|delete|import|random</c>.</summary>
internal static class ModelsCommand
{
    public static async Task<int> Run(Arguments args, TextWriter stdout)
    {
        var verb = args.Words.Count > 1 ? args.Words[1] : throw new CliException("models needs put, get, list, delete, import or random", 2);
        switch (verb)
        {
            case "put":
            {
                var path = args.Required("file", "a model file");
                var name = args.Optional("name");
                args.RejectUnknown();
                var model = PredictCommand.LoadModel(path); // refuse a bad file before touching the cluster
                if (name is not null)
                {
                    model = model.WithName(name);
                }

                await using var connection = await Connection.OpenAsync(args);
                var info = await connection.Client.GetGrain<IModelGrain>(model.Name).Publish(ModelFile.ToJson(model));
                stdout.WriteLine($"published {info.Model} v{info.Version}: {info.Description}");
                return 0;
            }

            case "get":
            {
                var name = args.Required("name", "a model name");
                var version = args.OptionalInt("version");
                var output = args.Optional("out");
                args.RejectUnknown();
                await using var connection = await Connection.OpenAsync(args);
                var json = await connection.Client.GetGrain<IModelGrain>(name).GetJson(version);
                var pretty = ModelFile.ToJson(ModelFile.Parse(json));
                if (output is null)
                {
                    stdout.WriteLine(pretty);
                }
                else
                {
                    await File.WriteAllTextAsync(output, pretty + "\n");
                }

                return 0;
            }

            case "list":
            {
                var only = args.Optional("name");
                args.RejectUnknown();
                await using var connection = await Connection.OpenAsync(args);
                var names = only is null ? await connection.Client.GetGrain<IModelCatalogGrain>(0).List() : [only];
                stdout.WriteLine("model,version,published,description");
                foreach (var name in names)
                {
                    foreach (var v in await connection.Client.GetGrain<IModelGrain>(name).ListVersions())
                    {
                        stdout.WriteLine($"{v.Model},{v.Version},{v.PublishedAt:O},\"{v.Description}\"");
                    }
                }

                return 0;
            }

            case "import":
            {
                var file = args.Required("safetensors", "a PyTorch state_dict saved as safetensors");
                var cellName = args.Required("cell", "the recurrent cell: gru, lstm, rnn_tanh or rnn_relu");
                var name = args.Required("name", "the model's name");
                var rnnPrefix = args.Optional("rnn-prefix");
                var headPrefix = args.Optional("head-prefix") ?? "fc";
                var headName = args.Optional("head") ?? "linear";
                var output = args.Optional("out");
                var publish = args.Flag("publish");
                args.RejectUnknown();
                if (!ModelNames.TryParseCell(cellName, out var cell))
                {
                    throw new CliException($"--cell is gru, lstm, rnn_tanh or rnn_relu, got '{cellName}'", 2);
                }

                if (!ModelNames.TryParseHead(headName, out var head))
                {
                    throw new CliException($"--head is linear, softmax or sigmoid, got '{headName}'", 2);
                }

                RnnModel model;
                try
                {
                    model = TorchImport.ToModel(Safetensors.Read(file), cell, name, rnnPrefix, headPrefix, head);
                }
                catch (ModelValidationException e)
                {
                    throw new CliException($"{file}: {e.Message}");
                }

                if (output is not null)
                {
                    ModelFile.Save(model, output);
                    stdout.WriteLine($"wrote {output} ({model})");
                }

                if (publish)
                {
                    await using var connection = await Connection.OpenAsync(args);
                    var info = await connection.Client.GetGrain<IModelGrain>(model.Name).Publish(ModelFile.ToJson(model));
                    stdout.WriteLine($"published {info.Model} v{info.Version}: {info.Description}");
                }

                if (output is null && !publish)
                {
                    stdout.WriteLine(ModelFile.ToJson(model));
                }

                return 0;
            }

            case "delete":
            {
                var name = args.Required("name", "a model name");
                var version = args.OptionalInt("version") ?? throw new CliException("missing --version (the version to delete)", 2);
                args.RejectUnknown();
                await using var connection = await Connection.OpenAsync(args);
                await connection.Client.GetGrain<IModelGrain>(name).DeleteVersion(version);
                stdout.WriteLine($"deleted {name} v{version}");
                return 0;
            }

            case "random":
            {
                var name = args.Required("name", "a model name");
                var output = args.Required("out", "the file to write");
                var cellName = args.Optional("cell") ?? "rnn_tanh";
                var headName = args.Optional("head") ?? "linear";
                if (!ModelNames.TryParseCell(cellName, out var cell))
                {
                    throw new CliException($"--cell is rnn_tanh, rnn_relu, gru or lstm, got '{cellName}'", 2);
                }

                if (!ModelNames.TryParseHead(headName, out var head))
                {
                    throw new CliException($"--head is linear, softmax or sigmoid, got '{headName}'", 2);
                }

                var model = RandomModel.Create(name, args.Int("input", 1), args.Int("hidden", 16), args.Int("output", 1),
                    args.Int("layers", 1), cell, head, args.Int("seed", 0, 0));
                args.RejectUnknown();
                ModelFile.Save(model, output);
                stdout.WriteLine($"wrote {output}: {model}");
                return 0;
            }

            default:
                throw new CliException($"unknown models command '{verb}'; use put, get, list, delete or random", 2);
        }
    }
}
