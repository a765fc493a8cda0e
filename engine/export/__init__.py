"""Export a fine-tuned model: merge adapters into safetensors, GGUF files, an Ollama Modelfile, a check.

`progress` and `ollama` are torch-free; `pipeline.run_export` loads torch when it runs.
"""
