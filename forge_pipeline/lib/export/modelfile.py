"""Ollama Modelfiles whose TEMPLATE and stop tokens match the model's chat template."""

from pathlib import Path

CHATML_TEMPLATE = """{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""


class ModelfileError(ValueError):
    """The chat template has no known Ollama equivalent."""


def modelfile_for(gguf_name: str, chat_template: str, system_prompt: str) -> str:
    """Modelfile text for a GGUF beside it; ChatML templates only (SmolLM2, Qwen, tiny)."""
    if "<|im_start|>" not in chat_template:
        raise ModelfileError(
            "Only ChatML chat templates can be written as an Ollama TEMPLATE yet; "
            "the GGUF itself still carries its own template."
        )
    system = system_prompt.replace('"""', "'''")
    return (
        f"FROM ./{gguf_name}\n"
        f'TEMPLATE """{CHATML_TEMPLATE}"""\n'
        f'SYSTEM """{system}"""\n'
        # Without these stops Ollama generates past the end of the answer forever.
        'PARAMETER stop "<|im_end|>"\n'
        'PARAMETER stop "<|im_start|>"\n'
    )


def write_modelfile(gguf: Path, chat_template: str, system_prompt: str) -> Path:
    """Write NAME.Modelfile beside NAME.gguf."""
    target = gguf.with_suffix(".Modelfile")
    target.write_text(modelfile_for(gguf.name, chat_template, system_prompt))
    return target
