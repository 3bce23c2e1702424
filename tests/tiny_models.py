"""Tiny transformers models built from configs: one table drives the shared checks."""

from __future__ import annotations

import torch


def _bert(**kw):
    from transformers import BertConfig, BertForSequenceClassification

    return BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                                    num_attention_heads=4, intermediate_size=64, num_labels=2, **kw))


def _roberta(**kw):
    from transformers import RobertaConfig, RobertaForSequenceClassification

    return RobertaForSequenceClassification(RobertaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                                          num_attention_heads=4, intermediate_size=64, num_labels=2,
                                                          max_position_embeddings=64, pad_token_id=1, **kw))


def _deberta(**kw):
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification

    return DebertaV2ForSequenceClassification(DebertaV2Config(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                                              num_attention_heads=4, intermediate_size=64, num_labels=2,
                                                              max_position_embeddings=64, **kw))


def _llama(**kw):
    from transformers import LlamaConfig, LlamaForCausalLM

    return LlamaForCausalLM(LlamaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                        num_key_value_heads=2, intermediate_size=64, max_position_embeddings=64, **kw))


def _qwen2(**kw):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    return Qwen2ForCausalLM(Qwen2Config(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                        num_key_value_heads=2, intermediate_size=64, max_position_embeddings=64, **kw))


def _gpt2(**kw):
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=4, n_positions=64, **kw))


# name -> (builder, modules_to_save for a classification head or None)
TINY_MODELS = {
    "bert": (_bert, ["classifier"]),
    "roberta": (_roberta, ["classifier"]),
    "deberta-v2": (_deberta, ["classifier"]),
    "llama": (_llama, None),
    "qwen2": (_qwen2, None),
    "gpt2": (_gpt2, None),
}


def tiny_model(name: str, seed: int = 0, **config_overrides):
    """(model in eval mode, modules_to_save); `config_overrides` go to the architecture's config."""
    torch.manual_seed(seed)
    builder, saved = TINY_MODELS[name]
    return builder(**config_overrides).eval(), saved


NO_DROPOUT = {"bert": dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)}


def tiny_batch(name: str, batch: int = 3, length: int = 7, seed: int = 1) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 100, (batch, length), generator=g)
    if name in ("llama", "qwen2", "gpt2"):
        return {"input_ids": ids, "labels": ids.clone()}
    return {"input_ids": ids, "labels": torch.randint(0, 2, (batch,), generator=g)}
