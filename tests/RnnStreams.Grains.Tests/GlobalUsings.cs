global using Xunit;
global using RnnStreams;
