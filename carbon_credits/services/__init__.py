"""Use cases. Each public function is one unit of work with keyword-only arguments."""
