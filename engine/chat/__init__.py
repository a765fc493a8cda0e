"""Chat with a model: transformers (base + adapter) or llama.cpp (GGUF) backends that stream tokens,
a REPL, a JSON-lines server, and the torch-free client the app uses to talk to that server."""
