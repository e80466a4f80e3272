//! The DynamoDB backend's writes: one conditional PutItem or DeleteItem
//! (asking for the item it replaces, `ReturnValues: ALL_OLD`, for the bill),
//! or several in one TransactWriteItems (billed from the items the caller
//! names as replaced).

use std::fmt;

use aws_sdk_dynamodb::{
    error::{ProvideErrorMetadata, SdkError},
    types::{Delete, Put, ReturnValue, TransactWriteItem},
};
use serde_dynamo::Item;

use super::{
    DynamoRepository, TOTAL, built,
    request::{condition_expression, key_of},
};
use crate::{
    Record, StoreError, billing,
    sdk_error::map_sdk_error,
    table::{Condition, Write, WriteError},
};

impl DynamoRepository {
    pub(super) async fn transact(&self, writes: Vec<Write>) -> Result<(), WriteError> {
        // Each item is encoded once: for the request, and for the bill (the
        // item before, as the write names it, and after).
        let mut units = 0.0;
        let items = writes
            .into_iter()
            .map(|write| {
                Ok(match write {
                    Write::Put {
                        record,
                        condition,
                        before,
                    } => {
                        let item = record.to_item();
                        let before = before.as_ref().map(Record::to_item);
                        units += billing::transaction([(before.as_ref(), Some(&item))]);
                        TransactWriteItem::builder()
                            .put(self.put(item, &condition)?)
                            .build()
                    }
                    Write::Delete { key, before } => {
                        let before = before.as_ref().map(Record::to_item);
                        units += billing::transaction([(before.as_ref(), None)]);
                        TransactWriteItem::builder()
                            .delete(
                                Delete::builder()
                                    .table_name(&*self.table)
                                    .set_key(Some(key_of(&key)))
                                    .build()
                                    .map_err(built)?,
                            )
                            .build()
                    }
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(TOTAL)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.account(true, out.consumed_capacity());
                self.bill(true, units);
                Ok(())
            }
            Err(err) => {
                if let Some(
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                        cancelled,
                    ),
                ) = err.as_service_error()
                {
                    let reasons: Vec<String> = cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None").to_owned())
                        .collect();
                    if let Some(index) = reasons.iter().position(|r| r == "ConditionalCheckFailed") {
                        return Err(WriteError::ConditionFailed { index });
                    }
                    return Err(StoreError::TransactionCancelled { reasons }.into());
                }
                Err(map_sdk_error(err).into())
            }
        }
    }

    pub(super) async fn write_one(&self, write: Write) -> Result<(), WriteError> {
        match write {
            Write::Put {
                record, condition, ..
            } => {
                let (expression, values) = condition_expression(&condition);
                let item = record.to_item();
                let sent = self
                    .client
                    .put_item()
                    .table_name(&*self.table)
                    .set_item(Some(item.clone().into()))
                    .set_condition_expression(expression.map(str::to_owned))
                    .set_expression_attribute_values(values)
                    .return_values(ReturnValue::AllOld)
                    .return_consumed_capacity(TOTAL)
                    .send()
                    .await;
                match sent {
                    Ok(out) => {
                        self.account(true, out.consumed_capacity.as_ref());
                        let old = out.attributes.map(Item::from);
                        self.bill(true, billing::single_write(old.as_ref(), Some(&item)));
                        Ok(())
                    }
                    Err(err) => {
                        // A failed condition is billed too, by the new item's size.
                        if err.code() == Some("ConditionalCheckFailedException") {
                            self.bill(true, billing::write_units(None, Some(&item)));
                        }
                        Err(single_write_error(err))
                    }
                }
            }
            Write::Delete { key, .. } => {
                let out = self
                    .client
                    .delete_item()
                    .table_name(&*self.table)
                    .set_key(Some(key_of(&key)))
                    .return_values(ReturnValue::AllOld)
                    .return_consumed_capacity(TOTAL)
                    .send()
                    .await
                    .map_err(single_write_error)?;
                self.account(true, out.consumed_capacity.as_ref());
                let old = out.attributes.map(Item::from);
                self.bill(true, billing::single_write(old.as_ref(), None));
                Ok(())
            }
        }
    }

    /// A put of `item`, encoded already, as a transaction item.
    fn put(&self, item: Item, condition: &Condition) -> Result<Put, StoreError> {
        let (expression, values) = condition_expression(condition);
        Put::builder()
            .table_name(&*self.table)
            .set_item(Some(item.into()))
            .set_condition_expression(expression.map(str::to_owned))
            .set_expression_attribute_values(values)
            .build()
            .map_err(built)
    }
}

/// A single PutItem's or DeleteItem's failure: its condition, or the store.
fn single_write_error<E, R>(err: SdkError<E, R>) -> WriteError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    if err.code() == Some("ConditionalCheckFailedException") {
        WriteError::ConditionFailed { index: 0 }
    } else {
        map_sdk_error(err).into()
    }
}
