//! `DynamoUploads`: the record store port over one DynamoDB table.
