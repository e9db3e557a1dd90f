"""The rule-pack language: grammar loading, parser, AST, checker and formatter."""
