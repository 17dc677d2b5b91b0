"""Search: free text over names and descriptions with filters, keyset-paged, through the one policy."""
