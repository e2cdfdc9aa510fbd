namespace RnnStreams.Http;

/// <summary><c>POST /v1/sequences/{id}/start</c>.</summary>
public sealed record StartBody(string? Model, int? Version = null, double[][]? H0 = null, double[][]? C0 = null);

/// <summary><c>POST /v1/sequences/{id}/elements</c>: element n's x_t.</summary>
public sealed record ElementBody(long N, double[]? X);

/// <summary><c>POST /v1/sequences/{id}/batch</c>: elements firstN, firstN+1, … one row each.</summary>
public sealed record BatchBody(long FirstN, double[][]? Inputs);

/// <summary>The answer to a batch: one row of outputs per element.</summary>
public sealed record BatchAnswer(long FirstN, int Count, double[][] Outputs, int ModelVersion, int Duplicates, long DurableN);
