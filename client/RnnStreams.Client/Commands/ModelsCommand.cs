using System.CommandLine;
using RnnStreams.Core;
using RnnStreams.Core.Formats;

namespace RnnStreams.Client.Commands;

/// <summary><c>models put|get|list|delete|import|random</c>: the cluster's models, and model files made offline.</summary>
internal static class ModelsCommand
{
    private static readonly string[] Cells = ["gru", "lstm", "rnn_tanh", "rnn_relu"];
    private static readonly string[] Heads = ["linear", "softmax", "sigmoid"];

    public static Command Create(TextWriter stdout) =>
        new("models", "The cluster's models (put, get, list, delete) and model files made offline (import, random).")
        {
            Put(stdout), Get(stdout), List(stdout), Delete(stdout), Import(stdout), Random(stdout),
        };

    private static Command Put(TextWriter stdout)
    {
        var file = CliOptions.Text("--file", "The model file to publish; it is validated here before anything is sent.", "M.json", required: true);
        var name = CliOptions.Text("--name", "Publish under this name (default: the name in the file).", "NAME");
        var command = new Command("put", "Publish a model file as the model's next version.") { file, name };
        ConnectionOptions.AddTo(command);
        command.SetAction(async args =>
        {
            var model = PredictCommand.LoadModel(args.GetValue(file)!); // refuse a bad file before touching the cluster
            if (args.GetValue(name) is { } rename)
            {
                model = model.WithName(rename);
            }

            await using var connection = await Connection.OpenAsync(args);
            var info = await connection.Client.GetGrain<IModelGrain>(model.Name).Publish(ModelFile.ToJson(model));
            stdout.WriteLine($"published {info.Model} v{info.Version}: {info.Description}");
            return 0;
        });
        return command;
    }

    private static Command Get(TextWriter stdout)
    {
        var name = CliOptions.Text("--name", "The model's name.", "NAME", required: true);
        var version = CliOptions.OptionalInt("--version", "The version to print (default: the latest).");
        var output = CliOptions.Text("--out", "Write the model file here instead of standard output.", "FILE");
        var command = new Command("get", "Print a version of a model as a model file.") { name, version, output };
        ConnectionOptions.AddTo(command);
        command.SetAction(async args =>
        {
            await using var connection = await Connection.OpenAsync(args);
            var json = await connection.Client.GetGrain<IModelGrain>(args.GetValue(name)!).GetJson(args.GetValue(version));
            var pretty = ModelFile.ToJson(ModelFile.Parse(json));
            if (args.GetValue(output) is { } path)
            {
                await File.WriteAllTextAsync(path, pretty + "\n");
            }
            else
            {
                stdout.WriteLine(pretty);
            }

            return 0;
        });
        return command;
    }

    private static Command List(TextWriter stdout)
    {
        var name = CliOptions.Text("--name", "Only this model (default: every model).", "NAME");
        var command = new Command("list", "Every model and version, as CSV: model,version,published,description.") { name };
        ConnectionOptions.AddTo(command);
        command.SetAction(async args =>
        {
            await using var connection = await Connection.OpenAsync(args);
            var names = args.GetValue(name) is { } only ? [only] : await connection.Client.GetGrain<IModelCatalogGrain>(0).List();
            stdout.WriteLine("model,version,published,description");
            foreach (var model in names)
            {
                foreach (var v in await connection.Client.GetGrain<IModelGrain>(model).ListVersions())
                {
                    stdout.WriteLine($"{v.Model},{v.Version},{v.PublishedAt:O},\"{v.Description}\"");
                }
            }

            return 0;
        });
        return command;
    }

    private static Command Delete(TextWriter stdout)
    {
        var name = CliOptions.Text("--name", "The model's name.", "NAME", required: true);
        var version = new Option<int>("--version") { Description = "The version to delete (no sequence may be using it).", HelpName = "N", Required = true };
        var command = new Command("delete", "Delete a version of a model that no sequence uses.") { name, version };
        ConnectionOptions.AddTo(command);
        command.SetAction(async args =>
        {
            var model = args.GetValue(name)!;
            var v = args.GetValue(version);
            await using var connection = await Connection.OpenAsync(args);
            await connection.Client.GetGrain<IModelGrain>(model).DeleteVersion(v);
            stdout.WriteLine($"deleted {model} v{v}");
            return 0;
        });
        return command;
    }

    private static Command Import(TextWriter stdout)
    {
        var file = CliOptions.Text("--safetensors", "A PyTorch state_dict saved as safetensors (keys rnn.weight_ih_l0 … fc.weight, fc.bias; F32 or F64).", "FILE", required: true);
        var cell = CliOptions.Choice("--cell", "The recurrent cell the state_dict holds.", null, Cells);
        cell.Required = true;
        var name = CliOptions.Text("--name", "The model's name.", "NAME", required: true);
        var rnnPrefix = CliOptions.Text("--rnn-prefix", "The recurrent module's key prefix (default: found in the file, such as rnn).", "PREFIX");
        var headPrefix = CliOptions.Text("--head-prefix", "The output layer's key prefix.", "PREFIX", fallback: "fc");
        var head = CliOptions.Choice("--head", "The output head applied after the linear layer.", "linear", Heads);
        var output = CliOptions.Text("--out", "Write the model file here.", "M.json");
        var dtype = CliOptions.Choice("--dtype", "The model's precision (default: as the file's tensors, float32 when every tensor read is F32, else float64).", null, "float32", "float64");
        var publish = CliOptions.Flag("--publish", "Publish the model to the cluster as its next version (otherwise offline).");
        var command = new Command("import", "Convert a PyTorch state_dict saved as safetensors into a model file (offline unless --publish; printed when neither --out nor --publish).")
        {
            file, cell, name, rnnPrefix, headPrefix, head, dtype, output, publish,
        };
        ConnectionOptions.AddTo(command);
        command.SetAction(async args =>
        {
            var path = args.GetValue(file)!;
            var parsedCell = ParseCell(args.GetValue(cell)!, "gru, lstm, rnn_tanh or rnn_relu");
            var parsedHead = ParseHead(args.GetValue(head)!);
            ModelPrecision? precision = args.GetValue(dtype) is { } text ? ParsePrecision(text) : null;
            RnnModel model;
            try
            {
                model = TorchImport.ToModel(Safetensors.Read(path), parsedCell, args.GetValue(name)!, args.GetValue(rnnPrefix), args.GetValue(headPrefix)!, parsedHead, precision);
            }
            catch (ModelValidationException e)
            {
                throw new CliException($"{path}: {e.Message}");
            }

            var outputPath = args.GetValue(output);
            if (outputPath is not null)
            {
                ModelFile.Save(model, outputPath);
                stdout.WriteLine($"wrote {outputPath} ({model})");
            }

            if (args.GetValue(publish))
            {
                await using var connection = await Connection.OpenAsync(args);
                var info = await connection.Client.GetGrain<IModelGrain>(model.Name).Publish(ModelFile.ToJson(model));
                stdout.WriteLine($"published {info.Model} v{info.Version}: {info.Description}");
            }
            else if (outputPath is null)
            {
                stdout.WriteLine(ModelFile.ToJson(model));
            }

            return 0;
        });
        return command;
    }

    private static Command Random(TextWriter stdout)
    {
        var name = CliOptions.Text("--name", "The model's name.", "NAME", required: true);
        var output = CliOptions.Text("--out", "The model file to write.", "FILE", required: true);
        var input = CliOptions.Int("--input", "The input size D.", 1);
        var hidden = CliOptions.Int("--hidden", "The hidden size H.", 16);
        var outputSize = CliOptions.Int("--output", "The output size O.", 1);
        var layers = CliOptions.Int("--layers", "Stacked recurrent layers.", 1);
        var cell = CliOptions.Choice("--cell", "The recurrent cell.", "rnn_tanh", "rnn_tanh", "rnn_relu", "gru", "lstm");
        var head = CliOptions.Choice("--head", "The output head.", "linear", Heads);
        var seed = CliOptions.Int("--seed", "The seed of the weights.", 0, min: 0);
        var command = new Command("random", "Write a seeded random model file (offline).") { name, output, input, hidden, outputSize, layers, cell, head, seed };
        ConnectionOptions.AddTo(command, hidden: true);
        command.SetAction(args =>
        {
            var model = RandomModel.Create(args.GetValue(name)!, args.GetValue(input), args.GetValue(hidden), args.GetValue(outputSize), args.GetValue(layers),
                ParseCell(args.GetValue(cell)!, "rnn_tanh, rnn_relu, gru or lstm"), ParseHead(args.GetValue(head)!), args.GetValue(seed));
            var path = args.GetValue(output)!;
            ModelFile.Save(model, path);
            stdout.WriteLine($"wrote {path}: {model}");
            return 0;
        });
        return command;
    }

    private static CellType ParseCell(string text, string choices) =>
        ModelNames.TryParseCell(text, out var cell) ? cell : throw new CliException($"--cell is {choices}, got '{text}'", 2);

    private static ModelPrecision ParsePrecision(string text) =>
        ModelNames.TryParsePrecision(text, out var precision) ? precision : throw new CliException($"--dtype is float32 or float64, got '{text}'", 2);

    private static OutputHead ParseHead(string text) =>
        ModelNames.TryParseHead(text, out var head) ? head : throw new CliException($"--head is linear, softmax or sigmoid, got '{text}'", 2);
}
