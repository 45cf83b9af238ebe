"""The pricing engine (ADR 0006): price books, promotions, margin guard — pure and explained."""
