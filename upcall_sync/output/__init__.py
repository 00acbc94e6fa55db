"""What people and machines read: plans as text, JSON and Markdown (`render`), apply's
progress (`progress`), and field-by-field differences (`explain`)."""
